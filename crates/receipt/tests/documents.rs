//! The documents as a customer gets them: text extracted with poppler's `pdftotext`,
//! page counts, `qpdf --check`, and page 1 of the repair record rendered with `pdftoppm`
//! and compared with a reviewed reference image, so that a layout regression fails here.
//!
//! Needs poppler-utils and qpdf (`cargo xtask setup` installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeZone, Utc};
use onsite_domain::money::Fen;
use onsite_receipt::{Document, Lang, OrderFile, ReceiptError, Rendered, render, sample};

fn when() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 19, 10, 0, 0)
        .single()
        .expect("a valid time")
}

fn job() -> OrderFile {
    sample::repair_job(20).expect("the sample order builds")
}

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("onsite-receipt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(name: &str, r: &Rendered) -> PathBuf {
    let path = out_dir().join(name);
    std::fs::write(&path, &r.bytes).expect("write pdf");
    path
}

fn tool(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (run cargo xtask setup)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text_of(path: &Path) -> String {
    tool(
        Command::new("pdftotext")
            .args(["-layout", "-enc", "UTF-8"])
            .arg(path)
            .arg("-"),
    )
}

fn pages_of(path: &Path) -> usize {
    let info = tool(Command::new("pdfinfo").arg(path));
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo prints Pages")
}

fn qpdf_ok(path: &Path) {
    let out = Command::new("qpdf")
        .arg("--check")
        .arg(path)
        .output()
        .expect("qpdf runs (cargo xtask setup)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "qpdf --check {}: {text}",
        path.display()
    );
    assert!(
        text.contains("No syntax or stream encoding errors"),
        "{text}"
    );
}

#[test]
fn the_repair_record_is_three_labelled_copies_with_parts_and_totals_in_chinese() {
    let r = render(&job(), Document::RepairRecord, Lang::Zh, when()).expect("renders");
    let path = write("repair-zh.pdf", &r);
    qpdf_ok(&path);
    assert_eq!(r.pages, 3, "one page per copy with 20 parts");
    assert_eq!(pages_of(&path), 3);
    let text = text_of(&path);
    let pages: Vec<&str> = text.split('\u{c}').collect();
    for (page, copy) in pages
        .iter()
        .zip(["第一联 存根", "第二联 售后服务", "第三联 客户"])
    {
        assert!(page.contains(copy), "copy label {copy} on its page");
        for label in [
            "售后服务维修记录单",
            "编号 SC2611-07",
            "华东机电设备有限公司 售后服务部",
            "苏州精工塑胶制品有限公司",
            "王建国",
            "HT2309-004512",
            "报修内容",
            "三包件（不收费）",
            "客户购买件",
            "部门负责人",
            "库房",
            "维修人",
            "张伟（项目经理）、刘洋",
        ] {
            assert!(
                page.contains(label),
                "{label:?} missing from a copy:\n{page}"
            );
        }
        // The purchased parts of the sample: 14 lines adding up to 3994.70.
        assert!(page.contains("3994.70"), "purchased parts total");
        assert!(page.contains("1560.00"), "a unit price with two decimals");
        // Times in the customer's zone: reported 01:20 UTC is 09:20 in Shanghai.
        assert!(
            page.contains("2026-11-18 09:20"),
            "reported time in local time"
        );
        assert!(page.contains("签字确认：王建国 于 2026-11-19 17:05 签署维修记录单"));
    }
    assert!(
        !text.contains("此签字无效"),
        "the signatures match the record"
    );
}

#[test]
fn english_documents_carry_english_labels_and_the_same_figures() {
    let file = job();
    let r = render(&file, Document::RepairRecord, Lang::En, when()).expect("renders");
    let path = write("repair-en.pdf", &r);
    qpdf_ok(&path);
    assert_eq!(pages_of(&path), 3);
    let text = text_of(&path);
    for label in [
        "After-Sales Repair Record",
        "Copy 1: Stub",
        "Copy 3: Customer",
        "Warranty parts (free of charge)",
        "Parts purchased by the customer",
        "Unit price (CNY)",
        "3994.70",
        "Out of warranty",
        "Times are the customer's local time (Asia/Shanghai)",
    ] {
        assert!(text.contains(label), "{label:?} missing:\n{text}");
    }
    assert!(
        !text.contains("三包件"),
        "no Chinese labels on the English record"
    );

    let q = render(&file, Document::Quote, Lang::En, when()).expect("renders");
    let qt = text_of(&write("quote-en.pdf", &q));
    for label in [
        "Quotation",
        "Subtotal",
        "Tax 15%",
        "Management fee 40%",
        "7294.43",
        "Approved with the customer's signature",
    ] {
        assert!(qt.contains(label), "{label:?} missing:\n{qt}");
    }
}

#[test]
fn quote_and_settlement_print_every_step_of_the_price_and_match() {
    let file = job();
    let q = render(&file, Document::Quote, Lang::Zh, when()).expect("quote renders");
    let s = render(&file, Document::Settlement, Lang::Zh, when()).expect("settlement renders");
    let (qp, sp) = (write("quote-zh.pdf", &q), write("settlement-zh.pdf", &s));
    qpdf_ok(&qp);
    qpdf_ok(&sp);
    let (qt, st) = (text_of(&qp), text_of(&sp));
    // By hand for the sample (20 parts): materials 3994.70, labour 1.5 d × 200 = 300.00,
    // travel 186.00 + meals 50.00 = 236.00; subtotal 4530.70; tax 15 % = 679.605 → 679.61;
    // cost 5210.31; management 40 % = 2084.124 → 2084.12; total 7294.43.
    for text in [&qt, &st] {
        for figure in [
            "3994.70", "300.00", "236.00", "4530.70", "679.61", "5210.31", "2084.12", "7294.43",
        ] {
            assert!(text.contains(figure), "{figure} missing:\n{text}");
        }
        assert!(
            text.contains("柒仟贰佰玖拾肆元肆角叁分"),
            "the total in capital numerals"
        );
    }
    assert!(qt.contains("报价单") && qt.contains("客户已签字确认"));
    assert!(st.contains("结算单") && st.contains("电子支付") && st.contains("0451 8823"));
}

#[test]
fn a_settlement_that_differs_from_the_approved_quote_is_refused() {
    let mut file = job();
    if let Some(s) = file.settlements.first_mut()
        && let Some(item) = s.items.first_mut()
    {
        item.unit_price = Fen(item.unit_price.0 + 100);
    }
    let err = render(&file, Document::Settlement, Lang::Zh, when()).expect_err("must refuse");
    assert!(matches!(err, ReceiptError::SettlementDiffers(_)), "{err}");
    assert!(err.to_string().contains("only what was agreed"), "{err}");
}

#[test]
fn field_record_and_service_receipt_print_ratings_open_items_and_handover() {
    let file = job();
    let f = render(&file, Document::FieldServiceRecord, Lang::Zh, when()).expect("renders");
    let fp = write("field-zh.pdf", &f);
    qpdf_ok(&fp);
    let ft = text_of(&fp);
    for label in [
        "外出安装/售后/维修服务记录表",
        "工作态度",
        "■很好",
        "□差",
        "■无",
        "■满意",
        "公司承诺",
        "7294.43 元",
    ] {
        assert!(ft.contains(label), "{label:?} missing:\n{ft}");
    }
    // Before the server numbers it, the form says its number is provisional; after, it
    // prints the service department's number, not the order's.
    assert!(
        ft.contains(&format!("临时：同步后编号（工单 {}）", file.order.number)),
        "{ft}"
    );
    let mut numbered = file.clone();
    numbered.order.service_record_number = Some("SC2611-05".into());
    let f = render(&numbered, Document::FieldServiceRecord, Lang::Zh, when()).expect("renders");
    let nt = text_of(&write("field-numbered-zh.pdf", &f));
    assert!(
        nt.contains("编号 SC2611-05") && !nt.contains("临时"),
        "{nt}"
    );
    let r = render(&file, Document::ServiceReceipt, Lang::Zh, when()).expect("renders");
    let rp = write("receipt-zh.pdf", &r);
    qpdf_ok(&rp);
    let rt = text_of(&rp);
    for label in [
        "服务回执单",
        "完成的工作",
        "遗留问题及计划",
        "冷却水温偏高",
        "有偿维修回访",
        "2026-11-26 17:45",
        "旧件，客户留存",
        "客户盖章或签字",
    ] {
        assert!(rt.contains(label), "{label:?} missing:\n{rt}");
    }
}

#[test]
fn text_too_long_for_its_cell_wraps_and_none_of_it_is_lost() {
    let mut file = job();
    let long = "液压系统压力不稳定，".repeat(30) + "END-OF-TEXT";
    file.order.fault_description = long.clone();
    file.order.diagnosis = Some(format!(
        "{} {}",
        "Supercalifragilistic".repeat(8),
        "tail-word"
    ));
    let r = render(&file, Document::RepairRecord, Lang::Zh, when()).expect("renders");
    let path = write("long.pdf", &r);
    qpdf_ok(&path);
    // No layout: one string per line of text, so joining the lines gives back the input.
    let raw = tool(
        Command::new("pdftotext")
            .args(["-enc", "UTF-8"])
            .arg(&path)
            .arg("-"),
    );
    let flat: String = raw.split_whitespace().collect();
    assert!(
        flat.contains("END-OF-TEXT"),
        "the end of a long text is printed"
    );
    assert_eq!(
        flat.matches("液压系统压力不稳定").count(),
        30 * 3,
        "every repetition on every copy"
    );
    assert!(
        flat.contains("tail-word"),
        "a word longer than the cell is broken, not cut"
    );
    // The longer text pushes the copies onto more pages rather than off the paper.
    assert!(r.pages >= 3);
}

#[test]
fn rare_characters_render_or_fall_back_visibly() {
    let mut file = job();
    if let Some(c) = file.customer.as_mut() {
        c.contact = "龘先生 𠀀女士".into();
    }
    let r = render(&file, Document::RepairRecord, Lang::Zh, when()).expect("renders");
    assert_eq!(
        r.missing_glyphs,
        vec!['𠀀'],
        "龘 is in the font, U+20000 is not"
    );
    let text = text_of(&write("rare.pdf", &r));
    assert!(text.contains("龘先生"), "龘 printed as itself");
    assert!(
        text.contains("[U+20000]女士"),
        "U+20000 printed as a visible marker"
    );
}

#[test]
fn the_same_order_gives_the_same_bytes_and_a_small_file() {
    let file = job();
    let a = render(&file, Document::RepairRecord, Lang::Zh, when()).expect("renders");
    let b = render(&job(), Document::RepairRecord, Lang::Zh, when()).expect("renders");
    assert!(a.bytes == b.bytes, "rendering is deterministic");
    assert!(
        a.bytes.len() < 200 * 1024,
        "three copies, 20 parts, 2 signatures: {} bytes",
        a.bytes.len()
    );
    let later = render(
        &file,
        Document::RepairRecord,
        Lang::Zh,
        when() + chrono::Duration::hours(1),
    )
    .expect("renders");
    assert!(
        a.bytes != later.bytes,
        "the creation date is the rendering time"
    );
    assert!(
        onsite_receipt::without_dates(&a.bytes) == onsite_receipt::without_dates(&later.bytes),
        "only the creation date differs"
    );
}

/// Page 1 of the Chinese repair record, rendered at 50 dpi in grey, against the reviewed
/// reference `tests/reference/repair-record-zh-p1.pgm`. Set `ONSITE_UPDATE_REFERENCE=1`
/// to write a new reference after looking at it.
#[test]
fn page_one_looks_like_the_reviewed_reference() {
    let r = render(&job(), Document::RepairRecord, Lang::Zh, when()).expect("renders");
    let path = write("reference.pdf", &r);
    let prefix = out_dir().join("page");
    tool(
        Command::new("pdftoppm")
            .args(["-gray", "-r", "50", "-f", "1", "-l", "1"])
            .arg(&path)
            .arg(&prefix),
    );
    let rendered = std::fs::read_dir(out_dir())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("page") && n.ends_with(".pgm"))
        })
        .expect("pdftoppm wrote a page");
    let got = std::fs::read(&rendered).expect("read page");
    let reference =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/repair-record-zh-p1.pgm");
    if std::env::var_os("ONSITE_UPDATE_REFERENCE").is_some() {
        std::fs::create_dir_all(reference.parent().expect("parent")).expect("dir");
        std::fs::write(&reference, &got).expect("write reference");
    }
    let want = std::fs::read(&reference).expect("the reference image is in the repo");
    let (gw, gh, gp) = pgm(&got);
    let (ww, wh, wp) = pgm(&want);
    assert_eq!((gw, gh), (ww, wh), "page size");
    let differing = gp
        .iter()
        .zip(wp)
        .filter(|(a, b)| a.abs_diff(**b) > 64)
        .count();
    let share = differing as f64 / gp.len() as f64;
    assert!(
        share < 0.002,
        "{:.3} % of the pixels differ from the reference (tolerance 0.2 %); look at {} and, if it is right, set ONSITE_UPDATE_REFERENCE=1",
        share * 100.0,
        rendered.display()
    );
}

/// Width, height and pixels of a binary PGM (P5, maxval 255).
fn pgm(bytes: &[u8]) -> (usize, usize, &[u8]) {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let start = i;
        while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P5", "a binary PGM");
    let w: usize = fields[1].parse().expect("width");
    let h: usize = fields[2].parse().expect("height");
    (w, h, &bytes[i + 1..])
}

#[test]
fn the_checklist_prints_each_answer_with_its_limits_and_the_out_of_limit_one_in_red() {
    let file = job();
    for (lang, words) in [
        (
            Lang::Zh,
            [
                "现场点检表",
                "电机绕组绝缘电阻",
                "≥ 0.5 MΩ",
                "0.3 MΩ",
                "超出限值",
                "绕组受潮",
                "交叉检查：刘洋",
                "不合格或超限 1 项",
            ],
        ),
        (
            Lang::En,
            [
                "Site Checklist",
                "电机绕组绝缘电阻",
                "≥ 0.5 MΩ",
                "0.3 MΩ",
                "OUT OF LIMITS",
                "绕组受潮",
                "cross-checked：刘洋",
                "1 failed or out of limits",
            ],
        ),
    ] {
        let r = render(&file, Document::Checklist, lang, when()).expect("renders");
        let path = write(&format!("checklist-{lang:?}"), &r);
        qpdf_ok(&path);
        let text = text_of(&path);
        for w in words {
            assert!(text.contains(w), "{lang:?} lacks {w:?}:\n{text}");
        }
        // Safety items first.
        let ppe = text.find("佩戴安全帽").expect("the helmet item");
        let insulation = text.find("电机绕组绝缘电阻").expect("the insulation item");
        assert!(ppe < insulation);
    }
    // The out-of-limit reading is drawn in red: the page content sets the red fill
    // before it, and only the failed row needs it here.
    let r = render(&file, Document::Checklist, Lang::Zh, when()).expect("renders");
    let path = write("checklist-red", &r);
    let raw = tool(
        Command::new("qpdf")
            .args(["--qdf", "--object-streams=disable"])
            .arg(&path)
            .arg("-"),
    );
    assert!(raw.contains("0.8 0 0 rg"), "no red fill in the checklist");
    assert!(
        raw.contains("0.8 0 0 RG"),
        "no red outline in the checklist"
    );
}
