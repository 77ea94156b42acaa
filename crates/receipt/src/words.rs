//! Every word a document prints, in zh-CN and English, and how values are written:
//! money as 元 with two decimals, times in the customer's time zone.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use onsite_domain::fees::{ItemKind, PaymentMethod};
use onsite_domain::money::{Fen, Quantity};
use onsite_domain::records::{Attitude, Damage, FollowUpKind, OldPartDisposition, Overall};
use onsite_domain::signature::DocumentKind;
use onsite_domain::work_order::{ServiceType, Status, WarrantyStatus};

use crate::Lang;

/// The labels of one language.
#[derive(Debug)]
pub(crate) struct Words {
    pub no: &'static str,
    pub continued: &'static str,
    pub page: fn(usize, usize) -> String,
    pub local_time: fn(&str) -> String,
    pub none: &'static str,
    // repair record
    pub repair_title: &'static str,
    pub copies: [&'static str; 3],
    pub service_unit: &'static str,
    pub customer: &'static str,
    pub contact: &'static str,
    pub address: &'static str,
    pub phone: &'static str,
    pub requested: &'static str,
    pub reported: &'static str,
    pub model: &'static str,
    pub serial: &'static str,
    pub quantity: &'static str,
    pub invoice: &'static str,
    pub purchased: &'static str,
    pub warranty: &'static str,
    pub service_type: &'static str,
    pub status: &'static str,
    pub problem: &'static str,
    pub diagnosis: &'static str,
    pub result: &'static str,
    pub repair_time: &'static str,
    pub outcome: &'static str,
    pub completed: &'static str,
    pub not_completed: &'static str,
    pub recorder: &'static str,
    pub engineer: &'static str,
    pub manager: &'static str,
    pub charge_cause: &'static str,
    pub warranty_parts: &'static str,
    pub purchased_parts: &'static str,
    pub seq: &'static str,
    pub part_no: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub unit_price: &'static str,
    pub amount: &'static str,
    pub old_part: &'static str,
    pub total: &'static str,
    pub opinion: &'static str,
    pub customer_signature: &'static str,
    pub engineer_signature: &'static str,
    pub date: &'static str,
    pub lead: &'static str,
    pub warehouse: &'static str,
    pub repairer: &'static str,
    pub signed: fn(&str, &str, &str, &str) -> String,
    /// The 外出服务记录表's number before the server gave it: provisional, with the order.
    pub provisional_number: fn(&str) -> String,
    pub invalidated: &'static str,
    pub not_signed: &'static str,
    pub image_missing: &'static str,
    // field service record
    pub field_title: &'static str,
    pub product_type: &'static str,
    pub installer: &'static str,
    pub delivered: &'static str,
    pub finished: &'static str,
    pub satisfaction: &'static str,
    pub attitude: &'static str,
    pub damage: &'static str,
    pub hygiene: &'static str,
    pub overall: &'static str,
    pub charges: &'static str,
    pub free: &'static str,
    pub suggestions: &'static str,
    pub commitment: &'static str,
    pub not_rated: &'static str,
    pub collected: &'static str,
    // quote and settlement
    pub quote_title: &'static str,
    pub settlement_title: &'static str,
    pub item: &'static str,
    pub description: &'static str,
    pub qty: &'static str,
    pub materials: &'static str,
    pub labour: &'static str,
    pub travel: &'static str,
    pub other: &'static str,
    pub warranty_value: &'static str,
    pub subtotal: &'static str,
    pub tax: &'static str,
    pub cost: &'static str,
    pub management: &'static str,
    pub grand_total: &'static str,
    pub in_words: &'static str,
    pub quote_state: &'static str,
    pub awaiting_approval: &'static str,
    pub approved_signed: &'static str,
    pub approved_verbal: fn(&str, &str) -> String,
    pub declined: fn(&str) -> String,
    pub supersedes: fn(&str) -> String,
    pub quoted_at: &'static str,
    pub schedule: fn(u32) -> String,
    pub payment: &'static str,
    pub invoice_ref: &'static str,
    pub settled_at: &'static str,
    pub settles: &'static str,
    // service receipt
    pub receipt_title: &'static str,
    pub work_done: &'static str,
    pub open_items: &'static str,
    pub due: &'static str,
    pub handed_parts: &'static str,
    pub handed_docs: &'static str,
    pub stamp: &'static str,
    pub log_day: &'static str,
    // checklist
    pub checklist_title: &'static str,
    pub check_item: &'static str,
    pub limits: &'static str,
    pub answer: &'static str,
    pub note: &'static str,
    pub checked_by: &'static str,
    pub safety: &'static str,
    pub required: &'static str,
    pub pass: &'static str,
    pub fail: &'static str,
    pub photo_taken: &'static str,
    pub open: &'static str,
    pub out_of_limits: &'static str,
    pub cross_checked: &'static str,
    pub no_checklist: &'static str,
    pub checklist_summary: fn(usize, usize, usize, usize) -> String,
}

pub(crate) static ZH: Words = Words {
    no: "编号",
    continued: "（续）",
    page: |i, n| format!("第 {i} 页 / 共 {n} 页"),
    local_time: |tz| format!("时间均为客户当地时间（{tz}）"),
    none: "无",
    repair_title: "售后服务维修记录单",
    copies: ["第一联 存根", "第二联 售后服务", "第三联 客户"],
    service_unit: "服务单位",
    customer: "客户单位",
    contact: "联系人",
    address: "地址",
    phone: "联系电话",
    requested: "要求服务时间",
    reported: "报修日期",
    model: "型号",
    serial: "出厂编号",
    quantity: "数量",
    invoice: "发票号",
    purchased: "购机日期",
    warranty: "保修状态",
    service_type: "服务类型",
    status: "工单状态",
    problem: "报修内容",
    diagnosis: "故障原因",
    result: "维修结果",
    repair_time: "修理时间",
    outcome: "完成情况",
    completed: "完成",
    not_completed: "未完成",
    recorder: "记录人",
    engineer: "服务工程师",
    manager: "项目经理",
    charge_cause: "收费原因",
    warranty_parts: "三包件（不收费）",
    purchased_parts: "客户购买件",
    seq: "序号",
    part_no: "备件编号",
    name: "名称",
    unit: "单位",
    unit_price: "单价（元）",
    amount: "金额（元）",
    old_part: "旧件处理",
    total: "合计",
    opinion: "客户意见",
    customer_signature: "客户签字",
    engineer_signature: "工程师签字",
    date: "日期",
    lead: "部门负责人",
    warehouse: "库房",
    repairer: "维修人",
    provisional_number: |order| format!("临时：同步后编号（工单 {order}）"),
    signed: |doc, hash, name, at| {
        format!("签字确认：{name} 于 {at} 签署{doc}（内容校验码 {hash}）")
    },
    invalidated: "签字后内容已更改，此签字无效，请重新签字",
    not_signed: "未签字",
    image_missing: "签字图像未同步到本机",
    field_title: "外出安装/售后/维修服务记录表",
    product_type: "产品类型",
    installer: "安装/服务人员",
    delivered: "交货日期",
    finished: "完成日期",
    satisfaction: "客户满意度",
    attitude: "工作态度",
    damage: "产品损坏",
    hygiene: "卫生状况",
    overall: "顾客满意",
    charges: "收费情况",
    free: "免费（保修）",
    suggestions: "客户建议",
    commitment: "公司承诺",
    not_rated: "未评价",
    collected: "评价时间",
    quote_title: "报价单",
    settlement_title: "结算单",
    item: "项目",
    description: "说明",
    qty: "数量",
    materials: "材料费",
    labour: "人工费",
    travel: "差旅费",
    other: "其他费用",
    warranty_value: "三包件价值（不收费）",
    subtotal: "小计",
    tax: "税金",
    cost: "成本",
    management: "管理费",
    grand_total: "合计",
    in_words: "合计（大写）",
    quote_state: "客户确认",
    awaiting_approval: "待客户确认",
    approved_signed: "客户已签字确认",
    approved_verbal: |name, at| format!("{name} 于 {at} 口头确认"),
    declined: |reason| format!("客户拒绝：{reason}"),
    supersedes: |n| format!("本报价为变更报价，替代 {n}"),
    quoted_at: "报价时间",
    schedule: |v| format!("收费标准第 {v} 版"),
    payment: "付款方式",
    invoice_ref: "发票/收据号",
    settled_at: "结算时间",
    settles: "对应报价",
    receipt_title: "服务回执单",
    work_done: "完成的工作",
    open_items: "遗留问题及计划",
    due: "计划日期",
    handed_parts: "交付客户的备件",
    handed_docs: "交付客户的文件",
    stamp: "客户盖章或签字",
    log_day: "日期",
    checklist_title: "现场点检表",
    check_item: "检查项目",
    limits: "限值",
    answer: "结果",
    note: "备注",
    checked_by: "检查人",
    safety: "安全",
    required: "必检",
    pass: "合格",
    fail: "不合格",
    photo_taken: "已拍照",
    open: "未检",
    out_of_limits: "超出限值",
    cross_checked: "交叉检查",
    no_checklist: "本工单没有点检表。",
    checklist_summary: |done, all, failed, open| {
        format!("已检 {done}/{all} 项；不合格或超限 {failed} 项；未检 {open} 项")
    },
};

pub(crate) static EN: Words = Words {
    no: "No.",
    continued: " (continued)",
    page: |i, n| format!("Page {i} of {n}"),
    local_time: |tz| format!("Times are the customer's local time ({tz})"),
    none: "None",
    repair_title: "After-Sales Repair Record",
    copies: [
        "Copy 1: Stub",
        "Copy 2: After-sales service",
        "Copy 3: Customer",
    ],
    service_unit: "Service unit",
    customer: "Customer",
    contact: "Contact",
    address: "Address",
    phone: "Phone",
    requested: "Service requested for",
    reported: "Reported",
    model: "Model",
    serial: "Serial No.",
    quantity: "Quantity",
    invoice: "Invoice No.",
    purchased: "Purchased",
    warranty: "Warranty",
    service_type: "Service type",
    status: "Status",
    problem: "Reported problem",
    diagnosis: "Cause found",
    result: "Repair result",
    repair_time: "Repair time",
    outcome: "Result",
    completed: "Completed",
    not_completed: "Not completed",
    recorder: "Recorded by",
    engineer: "Service engineer",
    manager: "project manager",
    charge_cause: "Why charged",
    warranty_parts: "Warranty parts (free of charge)",
    purchased_parts: "Parts purchased by the customer",
    seq: "#",
    part_no: "Part No.",
    name: "Name",
    unit: "Unit",
    unit_price: "Unit price (CNY)",
    amount: "Amount (CNY)",
    old_part: "Old part",
    total: "Total",
    opinion: "Customer's opinion",
    customer_signature: "Customer signature",
    engineer_signature: "Engineer signature",
    date: "Date",
    lead: "Department lead",
    warehouse: "Warehouse",
    repairer: "Repairer",
    signed: |doc, hash, name, at| format!("Signed by {name} at {at}: {doc} (content check {hash})"),
    provisional_number: |order| format!("provisional: numbered at sync (order {order})"),
    invalidated: "Changed after signing: this signature no longer counts, sign again",
    not_signed: "Not signed",
    image_missing: "Signature image not on this device",
    field_title: "Field Service Record (installation / after-sales / repair)",
    product_type: "Product type",
    installer: "Installer / engineer",
    delivered: "Delivered",
    finished: "Completed on",
    satisfaction: "Customer satisfaction",
    attitude: "Work attitude",
    damage: "Product damage",
    hygiene: "Tidiness",
    overall: "Overall",
    charges: "Charges",
    free: "Free (warranty)",
    suggestions: "Customer's suggestions",
    commitment: "Our commitment",
    not_rated: "Not rated",
    collected: "Rated at",
    quote_title: "Quotation",
    settlement_title: "Settlement",
    item: "Item",
    description: "Description",
    qty: "Qty",
    materials: "Materials",
    labour: "Labour",
    travel: "Travel",
    other: "Other",
    warranty_value: "Warranty parts value (not charged)",
    subtotal: "Subtotal",
    tax: "Tax",
    cost: "Cost",
    management: "Management fee",
    grand_total: "Total",
    in_words: "Total in words",
    quote_state: "Customer approval",
    awaiting_approval: "Awaiting the customer's approval",
    approved_signed: "Approved with the customer's signature",
    approved_verbal: |name, at| format!("Approved verbally by {name} at {at}"),
    declined: |reason| format!("Declined by the customer: {reason}"),
    supersedes: |n| format!("Change quote: replaces {n}"),
    quoted_at: "Quoted at",
    schedule: |v| format!("fee schedule v{v}"),
    payment: "Payment",
    invoice_ref: "Invoice / receipt No.",
    settled_at: "Settled at",
    settles: "Quote settled",
    receipt_title: "Service Receipt",
    work_done: "Work done",
    open_items: "Open items and plans",
    due: "Due",
    handed_parts: "Parts handed to the customer",
    handed_docs: "Documents handed to the customer",
    stamp: "Customer stamp or signature",
    log_day: "Day",
    checklist_title: "Site Checklist",
    check_item: "Check",
    limits: "Limits",
    answer: "Result",
    note: "Note",
    checked_by: "Checked by",
    safety: "safety",
    required: "required",
    pass: "Pass",
    fail: "FAIL",
    photo_taken: "Photo taken",
    open: "Not checked",
    out_of_limits: "OUT OF LIMITS",
    cross_checked: "cross-checked",
    no_checklist: "This order has no checklist.",
    checklist_summary: |done, all, failed, open| {
        format!("{done} of {all} checked; {failed} failed or out of limits; {open} not checked")
    },
};

pub(crate) fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    }
}

/// How values read in one language and time zone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fmt {
    pub lang: Lang,
    pub tz: Tz,
}

impl Fmt {
    pub fn time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
    pub fn opt_time(&self, t: Option<DateTime<Utc>>) -> String {
        t.map(|t| self.time(t)).unwrap_or_default()
    }
    pub fn day(&self, d: Option<NaiveDate>) -> String {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }
    /// `1234.50`: 元 with two decimals (the column says 元 / CNY).
    pub fn money(&self, f: Fen) -> String {
        f.to_yuan_string()
    }
    /// `1234.50 元` / `CNY 1234.50` where no column says the currency.
    pub fn money_unit(&self, f: Fen) -> String {
        match self.lang {
            Lang::Zh => format!("{} 元", f.to_yuan_string()),
            Lang::En => format!("CNY {}", f.to_yuan_string()),
        }
    }
    /// `a（b）` / `a (b)`.
    pub fn paren(&self, a: &str, b: &str) -> String {
        match self.lang {
            Lang::Zh => format!("{a}（{b}）"),
            Lang::En => format!("{a} ({b})"),
        }
    }
    /// `a：b` / `a: b`.
    pub fn labelled(&self, a: &str, b: &str) -> String {
        match self.lang {
            Lang::Zh => format!("{a}：{b}"),
            Lang::En => format!("{a}: {b}"),
        }
    }
    pub fn qty(&self, q: Quantity) -> String {
        match q.as_whole() {
            Some(w) => w.to_string(),
            None => format!("{:.2}", q.to_f64()),
        }
    }

    pub fn service_type(&self, s: ServiceType) -> &'static str {
        match self.lang {
            Lang::Zh => s.label_zh(),
            Lang::En => match s {
                ServiceType::Repair => "Repair",
                ServiceType::Maintenance => "Periodic maintenance",
                ServiceType::Consultation => "Technical consultation",
                ServiceType::PartsReplacement => "Parts replacement",
                ServiceType::Installation => "Installation and commissioning",
                ServiceType::Training => "Training",
                ServiceType::Inspection => "Inspection",
            },
        }
    }

    pub fn status(&self, s: Status) -> String {
        match self.lang {
            Lang::Zh => s.label_zh().to_owned(),
            Lang::En => {
                let mut t = s.as_str().replace('_', " ");
                if let Some(first) = t.get(..1) {
                    t = first.to_uppercase() + t.get(1..).unwrap_or("");
                }
                t
            }
        }
    }

    pub fn warranty(&self, w: WarrantyStatus) -> &'static str {
        match (self.lang, w) {
            (Lang::Zh, WarrantyStatus::InWarranty) => "保修期内",
            (Lang::Zh, WarrantyStatus::OutOfWarranty) => "保修期外",
            (Lang::Zh, WarrantyStatus::MaintenanceContract) => "维保合同",
            (Lang::En, WarrantyStatus::InWarranty) => "In warranty",
            (Lang::En, WarrantyStatus::OutOfWarranty) => "Out of warranty",
            (Lang::En, WarrantyStatus::MaintenanceContract) => "Maintenance contract",
        }
    }

    pub fn paid(&self, paid: bool) -> &'static str {
        match (self.lang, paid) {
            (Lang::Zh, true) => "有偿",
            (Lang::Zh, false) => "无偿",
            (Lang::En, true) => "paid",
            (Lang::En, false) => "free",
        }
    }

    pub fn old_part(&self, d: Option<OldPartDisposition>) -> &'static str {
        match (self.lang, d) {
            (_, None) => "",
            (Lang::Zh, Some(OldPartDisposition::CustomerKeeps)) => "客户留存",
            (Lang::Zh, Some(OldPartDisposition::ReturnForRepair)) => "返修",
            (Lang::Zh, Some(OldPartDisposition::Scrap)) => "报废",
            (Lang::En, Some(OldPartDisposition::CustomerKeeps)) => "Customer keeps",
            (Lang::En, Some(OldPartDisposition::ReturnForRepair)) => "Returned for repair",
            (Lang::En, Some(OldPartDisposition::Scrap)) => "Scrapped",
        }
    }

    pub fn item_kind(&self, k: ItemKind) -> &'static str {
        match (self.lang, k) {
            (Lang::Zh, ItemKind::Labour) => "人工",
            (Lang::Zh, ItemKind::Part) => "材料",
            (Lang::Zh, ItemKind::Transport) => "交通",
            (Lang::Zh, ItemKind::Lodging) => "住宿",
            (Lang::Zh, ItemKind::Meals) => "餐饮",
            (Lang::Zh, ItemKind::Other) => "其他",
            (Lang::En, ItemKind::Labour) => "Labour",
            (Lang::En, ItemKind::Part) => "Part",
            (Lang::En, ItemKind::Transport) => "Transport",
            (Lang::En, ItemKind::Lodging) => "Lodging",
            (Lang::En, ItemKind::Meals) => "Meals",
            (Lang::En, ItemKind::Other) => "Other",
        }
    }

    pub fn payment(&self, p: PaymentMethod) -> &'static str {
        match (self.lang, p) {
            (Lang::Zh, PaymentMethod::Cash) => "现金",
            (Lang::Zh, PaymentMethod::Electronic) => "电子支付",
            (Lang::En, PaymentMethod::Cash) => "Cash",
            (Lang::En, PaymentMethod::Electronic) => "Electronic",
        }
    }

    pub fn document(&self, d: DocumentKind) -> &'static str {
        match (self.lang, d) {
            (Lang::Zh, DocumentKind::Quote) => "报价单",
            (Lang::Zh, DocumentKind::RepairRecord) => "维修记录单",
            (Lang::Zh, DocumentKind::FieldServiceRecord) => "服务记录表",
            (Lang::Zh, DocumentKind::Settlement) => "结算单",
            (Lang::Zh, DocumentKind::ServiceReceipt) => "服务回执单",
            (Lang::Zh, DocumentKind::Milestone) => "里程碑",
            (Lang::En, DocumentKind::Quote) => "the quotation",
            (Lang::En, DocumentKind::RepairRecord) => "the repair record",
            (Lang::En, DocumentKind::FieldServiceRecord) => "the field service record",
            (Lang::En, DocumentKind::Settlement) => "the settlement",
            (Lang::En, DocumentKind::ServiceReceipt) => "the service receipt",
            (Lang::En, DocumentKind::Milestone) => "the milestone",
        }
    }

    pub fn follow_up(&self, k: FollowUpKind) -> &'static str {
        match (self.lang, k) {
            (Lang::Zh, FollowUpKind::Survey) => "满意度回访",
            (Lang::Zh, FollowUpKind::PaidRepair) => "有偿维修回访",
            (Lang::Zh, FollowUpKind::OneWeek) => "一周回访",
            (Lang::Zh, FollowUpKind::OneMonth) => "一个月回访",
            (Lang::Zh, FollowUpKind::ThreeMonths) => "三个月回访",
            (Lang::Zh, FollowUpKind::SmallDeviceCheck) => "24 小时维修回访",
            (Lang::Zh, FollowUpKind::RemoteCheck) => "远程处理 48 小时核实",
            (Lang::En, FollowUpKind::Survey) => "Satisfaction call",
            (Lang::En, FollowUpKind::PaidRepair) => "Paid-repair call",
            (Lang::En, FollowUpKind::OneWeek) => "One-week call",
            (Lang::En, FollowUpKind::OneMonth) => "One-month call",
            (Lang::En, FollowUpKind::ThreeMonths) => "Three-month call",
            (Lang::En, FollowUpKind::SmallDeviceCheck) => "24-hour repair call",
            (Lang::En, FollowUpKind::RemoteCheck) => "48-hour check after remote handling",
        }
    }

    /// The rating scales, each option with whether it was chosen: `■满意 □好`.
    pub fn attitude(&self, a: Option<Attitude>) -> String {
        let opts = [
            (Attitude::Poor, "差", "Poor"),
            (Attitude::Fair, "一般", "Fair"),
            (Attitude::Satisfied, "满意", "Satisfied"),
            (Attitude::Good, "好", "Good"),
            (Attitude::VeryGood, "很好", "Very good"),
        ];
        self.scale(&opts, a)
    }
    pub fn damage(&self, d: Option<Damage>) -> String {
        let opts = [
            (Damage::Some, "有", "Some"),
            (Damage::None, "无", "None"),
            (Damage::Severe, "严重", "Severe"),
        ];
        self.scale(&opts, d)
    }
    pub fn hygiene(&self, good: Option<bool>) -> String {
        self.scale(&[(true, "好", "Good"), (false, "不好", "Poor")], good)
    }
    pub fn overall(&self, o: Option<Overall>) -> String {
        let opts = [
            (Overall::Satisfied, "满意", "Satisfied"),
            (Overall::Dissatisfied, "不满意", "Dissatisfied"),
            (Overall::VeryDissatisfied, "非常不满意", "Very dissatisfied"),
        ];
        self.scale(&opts, o)
    }
    fn scale<T: PartialEq + Copy>(&self, opts: &[(T, &str, &str)], chosen: Option<T>) -> String {
        opts.iter()
            .map(|(v, zh, en)| {
                let mark = if chosen == Some(*v) { '■' } else { '□' };
                let word = match self.lang {
                    Lang::Zh => zh,
                    Lang::En => en,
                };
                format!("{mark}{word}")
            })
            .collect::<Vec<_>>()
            .join("  ")
    }
}

/// An amount in Chinese capital numerals as written on receipts (人民币大写):
/// 2172.38 → `贰仟壹佰柒拾贰元叁角捌分`, 300.00 → `叁佰元整`.
pub(crate) fn yuan_in_words(f: Fen) -> String {
    const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
    const UNITS: [&str; 4] = ["", "拾", "佰", "仟"];
    const GROUPS: [&str; 4] = ["", "万", "亿", "万亿"];
    let negative = f.0 < 0;
    let fen = f.0.unsigned_abs();
    let yuan = fen / 100;
    let jiao = (fen / 10) % 10;
    let fen_digit = fen % 10;
    let mut out = String::new();
    if yuan == 0 {
        out.push('零');
    } else {
        let mut groups = Vec::new();
        let mut y = yuan;
        while y > 0 {
            groups.push(y % 10_000);
            y /= 10_000;
        }
        let mut pending_zero = false;
        for (gi, g) in groups.iter().enumerate().rev() {
            if *g == 0 {
                pending_zero = !out.is_empty();
                continue;
            }
            if !out.is_empty() && (*g < 1000 || pending_zero) {
                out.push('零');
            }
            pending_zero = false;
            let digits = [g / 1000, (g / 100) % 10, (g / 10) % 10, g % 10];
            let mut zero = false;
            let mut started = false;
            for (i, d) in digits.iter().enumerate() {
                if *d == 0 {
                    zero = started;
                    continue;
                }
                if zero {
                    out.push('零');
                    zero = false;
                }
                started = true;
                out.push(DIGITS[*d as usize]);
                out.push_str(UNITS[3 - i]);
            }
            out.push_str(GROUPS[gi.min(3)]);
        }
    }
    out.push('元');
    if jiao == 0 && fen_digit == 0 {
        out.push('整');
    } else {
        if jiao > 0 {
            out.push(DIGITS[jiao as usize]);
            out.push('角');
        } else {
            out.push('零');
        }
        if fen_digit > 0 {
            out.push(DIGITS[fen_digit as usize]);
            out.push('分');
        }
    }
    if negative { format!("负{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_capital_numerals_read_as_on_a_receipt() {
        assert_eq!(yuan_in_words(Fen(217_238)), "贰仟壹佰柒拾贰元叁角捌分");
        assert_eq!(yuan_in_words(Fen(30_000)), "叁佰元整");
        assert_eq!(yuan_in_words(Fen(100_500)), "壹仟零伍元整");
        assert_eq!(yuan_in_words(Fen(100_000_000)), "壹佰万元整");
        assert_eq!(yuan_in_words(Fen(1_000_100)), "壹万零壹元整");
        assert_eq!(yuan_in_words(Fen(5)), "零元零伍分");
        assert_eq!(yuan_in_words(Fen(10)), "零元壹角");
        assert_eq!(yuan_in_words(Fen(120_000_000)), "壹佰贰拾万元整");
    }
}
