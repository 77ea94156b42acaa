//! A fixed, realistic paid repair with everything its documents print — quote approved
//! by signature, parts in and out of warranty, settlement, ratings, signatures with their
//! images — for tests, the benchmark and previews. Built through the same
//! [`OrderFile::from_rows`] the app and the server use.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use onsite_domain::completion::{quote_content_hash, repair_record_hash};
use onsite_domain::fees::{
    Approval, FeeSchedule, ItemKind, PaymentMethod, Quote, QuoteItem, QuoteState, Settlement,
};
use onsite_domain::money::{Fen, Quantity};
use onsite_domain::protocol::Entity;
use onsite_domain::records::{
    Attitude, Company, Customer, Damage, Equipment, FollowUp, FollowUpKind, LogEntry,
    OldPartDisposition, Overall, Part, PartUsage, Satisfaction,
};
use onsite_domain::signature::{DocumentKind, Signature, SignerRole, sha256_hex};
use onsite_domain::work_order::{
    Assignment, Channel, Outcome, ServiceType, Status, WarrantyStatus, WorkOrder,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{OrderFile, ReceiptError};

/// The customer's signature (PNG with transparency, as signature_pad makes them).
pub const CUSTOMER_SIGNATURE: &[u8] = include_bytes!("../fixtures/customer-signature.png");
/// The engineer's signature.
pub const ENGINEER_SIGNATURE: &[u8] = include_bytes!("../fixtures/engineer-signature.png");

const PARTS: &[(&str, &str, &str, i64)] = &[
    ("CJX2-1810", "交流接触器 CJX2-1810", "只", 35_640),
    ("NR2-25", "热过载继电器 NR2-25", "只", 12_800),
    ("BRG-6205", "深沟球轴承 6205-2RS", "套", 4_650),
    ("SEAL-45", "骨架油封 45×62×8", "个", 1_200),
    ("FUSE-10A", "熔断器 RT18-32 10A", "只", 850),
    ("PCB-MAIN", "主控板", "块", 156_000),
    ("FAN-120", "散热风扇 120mm 24V", "台", 9_800),
    ("SENS-PT100", "温度传感器 PT100", "支", 23_500),
    ("BELT-B1600", "三角皮带 B1600", "条", 4_200),
    ("FILT-AIR", "空气滤芯", "个", 6_800),
];

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    // Times are written in UTC; the documents print them in Asia/Shanghai (+8).
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0193_5000_0000_7000_8000_0000_0000_0000 | n)
}

fn row<T: Serialize>(entity: Entity, value: &T) -> (Entity, String) {
    (entity, serde_json::to_string(value).unwrap_or_default())
}

/// The paid repair `SC2611-07` with `parts` part usages (every third one a warranty
/// part) and two signatures on each signed document.
pub fn repair_job(parts: usize) -> Result<OrderFile, ReceiptError> {
    let order_id = id(1);
    let company = Company {
        id: id(2),
        name: "华东机电设备有限公司 售后服务部".into(),
        name_en: Some("East China Electromechanical Co., Ltd. — After-Sales Service".into()),
        address: Some("上海市闵行区莘庄工业区申富路 88 号".into()),
        phone: Some("021-6489 2200".into()),
        hotline: Some("400-820-1234".into()),
    };
    let customer = Customer {
        id: id(3),
        name: "苏州精工塑胶制品有限公司".into(),
        contact: "王建国".into(),
        phone: "13912345678".into(),
        address: "江苏省苏州市工业园区星湖街 328 号 5 号厂房".into(),
        key_customer: true,
        time_zone: Some("Asia/Shanghai".into()),
    };
    let equipment = Equipment {
        id: id(4),
        customer_id: customer.id,
        model: "HTF-2800X 注塑机".into(),
        serial: "HT2309-004512".into(),
        project_number: Some("AB23117".into()),
        kind: Some("注塑机".into()),
        size: None,
        small_device: false,
        location: Some("3 号车间 A 线".into()),
        commissioned_on: NaiveDate::from_ymd_opt(2023, 10, 8),
        purchased_on: NaiveDate::from_ymd_opt(2023, 9, 15),
        invoice_number: Some("31002345".into()),
        warranty_until: NaiveDate::from_ymd_opt(2025, 9, 15),
    };
    let catalogue: Vec<Part> = PARTS
        .iter()
        .enumerate()
        .map(|(i, &(no, name, unit, price))| Part {
            id: id(100 + i as u128),
            part_number: no.into(),
            name: name.into(),
            unit: unit.into(),
            unit_price: Fen(price),
        })
        .collect();
    let usages: Vec<PartUsage> = (0..parts)
        .map(|i| {
            let part = &catalogue[i % catalogue.len()];
            PartUsage {
                id: id(200 + i as u128),
                work_order_id: order_id,
                part_id: part.id,
                quantity: 1 + (i % 3) as u32,
                warranty: i % 3 == 2,
                unit_price: Some(part.unit_price),
                old_part: Some(match i % 3 {
                    0 => OldPartDisposition::CustomerKeeps,
                    1 => OldPartDisposition::Scrap,
                    _ => OldPartDisposition::ReturnForRepair,
                }),
                from_van_stock: i % 2 == 0,
                voids: None,
            }
        })
        .collect();
    let order = WorkOrder {
        id: order_id,
        number: "SC2611-07".into(),
        department: "SC".into(),
        customer_id: customer.id,
        equipment_id: Some(equipment.id),
        service_type: ServiceType::Repair,
        fault_level: 2,
        channel: Channel::Hotline,
        status: Status::Completed,
        reported_at: at(18, 1, 20),
        fault_description: "开机后液压泵电机启动约 3 分钟即跳闸，报警 E-17（电机过载）；复位后可再次启动，但合模时有异响。客户已自行检查油位正常。".into(),
        expected_completion: NaiveDate::from_ymd_opt(2026, 11, 21),
        requested_service_at: Some(at(19, 1, 0)),
        scheduled_at: Some(at(19, 1, 30)),
        warranty: WarrantyStatus::OutOfWarranty,
        paid: true,
        charge_cause: None,
        complex: false,
        assignees: vec![
            Assignment {
                engineer_id: id(5),
                manager: true,
                name: Some("张伟".into()),
            },
            Assignment {
                engineer_id: id(6),
                manager: false,
                name: Some("刘洋".into()),
            },
        ],
        recorded_by: Some("客服 陈静".into()),
        service_record_number: None,
        service_record_waiting: None,
        outside_main_city: false,
        arrived_at: None,
        diagnosis: Some("交流接触器主触点烧蚀，造成电机缺相过载；热继电器整定值偏低；油泵联轴器轴承磨损引起异响。".into()),
        repair_result: Some("更换接触器与热继电器并重新整定，更换轴承与油封，空载及带载试机各 2 小时，运行正常，报警消除。".into()),
        repair_started_at: Some(at(19, 2, 10)),
        repair_ended_at: Some(at(19, 8, 45)),
        outcome: Some(Outcome::Completed),
        postpone_reason: None,
    };
    let schedule = FeeSchedule::default();
    let mut items: Vec<QuoteItem> = usages
        .iter()
        .map(|u| {
            let part = catalogue.iter().find(|p| p.id == u.part_id);
            QuoteItem {
                kind: ItemKind::Part,
                description: part.map(|p| p.name.clone()).unwrap_or_default(),
                part_id: Some(u.part_id),
                unit_price: u.unit_price.unwrap_or(Fen::ZERO),
                quantity: Quantity::whole(u64::from(u.quantity)),
                warranty: u.warranty,
            }
        })
        .collect();
    items.push(schedule.labour(Quantity::from_hundredths(150)));
    items.push(QuoteItem {
        kind: ItemKind::Transport,
        description: "上海—苏州往返交通（实报）".into(),
        part_id: None,
        unit_price: Fen(18_600),
        quantity: Quantity::whole(1),
        warranty: false,
    });
    items.push(schedule.meals(Quantity::whole(1)));
    let mut quote = Quote {
        id: id(7),
        work_order_id: order_id,
        items: items.clone(),
        schedule_version: schedule.version,
        state: QuoteState::Draft,
        supersedes: None,
        created_at: at(19, 1, 55),
    };
    let quote_sig = Signature {
        id: id(8),
        work_order_id: order_id,
        document: DocumentKind::Quote,
        document_id: Some(quote.id),
        document_hash: quote_content_hash(&quote).unwrap_or_default(),
        signer_name: "王建国".into(),
        signer_role: SignerRole::Customer,
        signed_at: at(19, 2, 5),
        sha256: sha256_hex(CUSTOMER_SIGNATURE),
        strokes: serde_json::Value::Null,
    };
    quote.state = QuoteState::Approved {
        approval: Approval::Signature {
            signature_id: quote_sig.id,
        },
    };
    let record_hash = repair_record_hash(&order, &usages).unwrap_or_default();
    let signatures = [
        quote_sig,
        Signature {
            id: id(9),
            work_order_id: order_id,
            document: DocumentKind::RepairRecord,
            document_id: None,
            document_hash: record_hash.clone(),
            signer_name: "王建国".into(),
            signer_role: SignerRole::Customer,
            signed_at: at(19, 9, 5),
            sha256: sha256_hex(CUSTOMER_SIGNATURE),
            strokes: serde_json::Value::Null,
        },
        Signature {
            id: id(10),
            work_order_id: order_id,
            document: DocumentKind::RepairRecord,
            document_id: None,
            document_hash: record_hash,
            signer_name: "张伟".into(),
            signer_role: SignerRole::Engineer,
            signed_at: at(19, 9, 6),
            sha256: sha256_hex(ENGINEER_SIGNATURE),
            strokes: serde_json::Value::Null,
        },
    ];
    let settlement = Settlement {
        id: id(11),
        work_order_id: order_id,
        quote_id: quote.id,
        items,
        payment: PaymentMethod::Electronic,
        invoice_ref: Some("发票 No. 0451 8823".into()),
        settled_at: at(19, 9, 20),
        voids: None,
    };
    let satisfaction = Satisfaction {
        id: id(12),
        work_order_id: order_id,
        attitude: Attitude::VeryGood,
        damage: Damage::None,
        hygiene_good: true,
        overall: Overall::Satisfied,
        suggestions: Some(
            "工程师到场及时，讲解清楚。希望常用备件能在苏州备库，缩短等待时间。".into(),
        ),
        commitment: Some(
            "三个月内同一故障免费上门复修；30 日内完成备件本地化评估并回复客户。".into(),
        ),
        collected_at: at(19, 9, 10),
        voids: None,
    };
    let log = LogEntry {
        id: id(13),
        work_order_id: order_id,
        day: NaiveDate::from_ymd_opt(2026, 11, 19).unwrap_or_default(),
        text: "到场检查电气柜与油泵，更换接触器、热继电器、轴承及油封，试机正常。".into(),
        progress: Some("维修完成".into()),
        open_problems: Some("冷却水温偏高（32 ℃），建议客户清洗冷却塔".into()),
        next_plan: Some("一周后电话回访运行情况".into()),
        author_id: Some(id(5)),
        voids: None,
    };
    let follow_up = FollowUp {
        id: id(14),
        work_order_id: order_id,
        kind: FollowUpKind::PaidRepair,
        due_at: at(19, 9, 45) + Duration::days(7),
        done_at: None,
        note: None,
        voids: None,
    };
    let checklist = checklist(order_id);
    let mut rows: Vec<(Entity, String)> = vec![
        row(Entity::WorkOrder, &order),
        row(Entity::Company, &company),
        row(Entity::Customer, &customer),
        row(Entity::Equipment, &equipment),
        row(Entity::FeeSchedule, &schedule),
        row(Entity::Quote, &quote),
        row(Entity::Settlement, &settlement),
        row(Entity::Satisfaction, &satisfaction),
        row(Entity::LogEntry, &log),
        row(Entity::FollowUp, &follow_up),
    ];
    rows.extend(catalogue.iter().map(|p| row(Entity::Part, p)));
    rows.extend(usages.iter().map(|u| row(Entity::PartUsage, u)));
    rows.extend(signatures.iter().map(|s| row(Entity::Signature, s)));
    rows.extend(checklist.iter().map(|i| row(Entity::ChecklistItem, i)));
    let mut file = OrderFile::from_rows(order_id, rows.iter().map(|(e, b)| (*e, b.as_str())))?;
    file.images
        .insert(sha256_hex(CUSTOMER_SIGNATURE), CUSTOMER_SIGNATURE.to_vec());
    file.images
        .insert(sha256_hex(ENGINEER_SIGNATURE), ENGINEER_SIGNATURE.to_vec());
    Ok(file)
}

/// The repair's checklist, as 张伟 answered it and 刘洋 cross-checked it: the safety items
/// first, one insulation reading below its limit (with why), the rest within.
fn checklist(order_id: Uuid) -> Vec<onsite_domain::checklist::ChecklistItem> {
    use onsite_domain::checklist::{Answer, ChecklistItem, ItemKind};
    let measured = |unit: &str, min: Option<f64>, max: Option<f64>| ItemKind::Measured {
        unit: unit.into(),
        min,
        max,
    };
    /// Key, label, kind, safety, answer, note.
    type Item = (
        &'static str,
        &'static str,
        ItemKind,
        bool,
        Answer,
        Option<&'static str>,
    );
    let items: [Item; 6] = [
        (
            "ppe",
            "佩戴安全帽、穿防护服",
            ItemKind::PassFail,
            true,
            Answer::Pass,
            None,
        ),
        (
            "power_off",
            "确认设备已断电并挂牌上锁",
            ItemKind::PassFail,
            true,
            Answer::Pass,
            None,
        ),
        (
            "insulation",
            "电机绕组绝缘电阻",
            measured("MΩ", Some(0.5), None),
            false,
            Answer::Value(0.3),
            Some("绕组受潮，烘干后复测 2.1 MΩ"),
        ),
        (
            "ground",
            "接地电阻",
            measured("Ω", None, Some(4.0)),
            false,
            Answer::Value(1.2),
            None,
        ),
        (
            "alarm",
            "报警记录导出",
            ItemKind::Text,
            false,
            Answer::Text("过载报警 3 次（11-17 至 11-18）".into()),
            None,
        ),
        (
            "trial",
            "试运行 30 分钟",
            ItemKind::PassFail,
            false,
            Answer::Pass,
            None,
        ),
    ];
    items
        .into_iter()
        .zip(0u32..)
        .map(
            |((key, label, kind, safety, answer, note), n)| ChecklistItem {
                id: id(200 + u128::from(n)),
                work_order_id: order_id,
                template_id: None,
                template_version: None,
                position: n,
                key: key.into(),
                label: label.into(),
                kind,
                required: true,
                safety,
                answer: Some(answer),
                note: note.map(str::to_owned),
                answered_by: Some(id(5)),
                answered_at: Some(at(19, 3, 10 + n)),
                cross_checked_by: (n < 3).then_some(id(6)),
                cross_checked_at: (n < 3).then_some(at(19, 4, 0)),
            },
        )
        .collect()
}
