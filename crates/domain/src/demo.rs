//! Realistic demo and test data, deterministic from a seed: Chinese customers, equipment,
//! work orders with checklists and part usages. Used by tests, benchmarks and the
//! server's `--demo`; pure like the rest of the crate (its own small PRNG, no I/O).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use crate::checklist::{Answer, ChecklistItem, ChecklistTemplate, ItemKind, TemplateItem};
use crate::money::Fen;
use crate::records::{Customer, Equipment, OldPartDisposition, Part, PartUsage};
use crate::work_order::{Assignment, Channel, ServiceType, Status, WarrantyStatus, WorkOrder};

/// SplitMix64: tiny, fast, good enough for demo data, identical on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let len = u64::try_from(items.len()).unwrap_or(u64::MAX);
        let i = usize::try_from(self.below(len)).unwrap_or(0);
        &items[i]
    }

    /// A UUIDv7-shaped id whose time part is `at` and whose random part comes from here.
    pub fn uuid_v7(&mut self, at: DateTime<Utc>) -> Uuid {
        let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
        let rand = self.next_u64();
        let rand2 = self.next_u64();
        let hi = (ms << 16) | 0x7000 | (rand & 0x0FFF);
        let lo = (rand2 & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        Uuid::from_u64_pair(hi, lo)
    }
}

const COMPANIES: &[&str] = &[
    "华东精密机械有限公司",
    "苏州宏达电气股份有限公司",
    "杭州恒通数据科技有限公司",
    "南京金陵化工集团",
    "无锡新区热电厂",
    "宁波港务物流有限公司",
    "合肥晶源半导体有限公司",
    "上海浦江水务公司",
    "常州天合纺织有限公司",
    "扬州润泽食品厂",
    "温州瓯江电机制造有限公司",
    "嘉兴光明印刷包装有限公司",
    "Shenzhen Bright Optics Co., Ltd.",
    "绍兴越城医疗器械有限公司",
    "镇江长江造船厂",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "涛", "明", "超",
];
const CITIES: &[&str] = &[
    "上海市浦东新区",
    "苏州市工业园区",
    "杭州市滨江区",
    "南京市江宁区",
    "无锡市新吴区",
    "宁波市北仑区",
    "合肥市高新区",
];
const STREETS: &[&str] = &[
    "星湖街",
    "金鸡湖大道",
    "江南大道",
    "秣周东路",
    "长江路",
    "新矸路",
    "望江西路",
];
const MODELS: &[(&str, &str)] = &[
    ("YKK-450-4", "高压异步电动机"),
    ("SCB11-1000/10", "干式变压器"),
    ("KYN28A-12", "高压开关柜"),
    ("GGD-380", "低压配电柜"),
    ("VFD-A1000", "变频器"),
    ("CNC-850L", "立式加工中心"),
    ("AHU-2000", "空气处理机组"),
    ("UPS-60K", "不间断电源"),
    ("PLC-S7-1500", "可编程控制器"),
    ("GC-2030", "气相色谱仪"),
];
const FAULTS: &[&str] = &[
    "设备运行时电机异响，振动明显增大，已停机等待处理",
    "变频器报警 OC 过流故障，复位后十分钟再次报警",
    "开关柜合闸后跳闸，保护装置显示零序过流",
    "主轴温升过高，超过 75℃ 自动停机",
    "UPS 电池组放电时间明显缩短，告警灯常亮",
    "显示屏无显示，指示灯不亮，客户已检查电源正常",
    "液压系统压力不稳，压力表指针摆动",
    "控制器通讯中断，上位机无法读取数据 (Modbus timeout)",
    "色谱仪基线漂移，检测结果重复性差",
    "空调机组风机皮带打滑，出风量不足",
    "变压器温控器报超温，风机频繁启动",
    "Customer reports intermittent E-stop trips during night shift",
];
/// A plausible answer of the right kind for a demo item (`ChecklistItem::validate`).
fn demo_answer(key: &str, order: Uuid) -> Answer {
    match key {
        "insulation" => Answer::Value(12.5),
        "temp" => Answer::Value(48.0),
        "photo" => Answer::Photo(crate::signature::sha256_hex(
            format!("demo photo {order}").as_bytes(),
        )),
        "alarm" => Answer::Text("无报警".into()),
        "firmware" => Answer::Text("V2.1.3".into()),
        _ => Answer::Pass,
    }
}

const CHECK_ITEMS: &[(&str, &str)] = &[
    ("ppe", "佩戴安全帽、穿防护服"),
    ("gloves", "佩戴绝缘手套"),
    ("barrier", "设置安全围栏及警示牌"),
    ("power_off", "确认设备已断电并挂牌上锁"),
    ("insulation", "绝缘电阻测试"),
    ("ground", "接地电阻测试"),
    ("voltage", "三相电压检查"),
    ("current", "空载电流测量"),
    ("temp", "轴承温度测量"),
    ("vibration", "振动值测量"),
    ("terminals", "接线端子紧固检查"),
    ("fan", "冷却风扇运行检查"),
    ("filter", "滤网清洁"),
    ("lube", "润滑油脂补充"),
    ("seal", "密封件检查"),
    ("alarm", "报警记录导出"),
    ("firmware", "固件版本核对"),
    ("trial", "试运行 30 分钟"),
    ("clean", "现场清洁"),
    ("photo", "完工照片"),
];
const PARTS: &[(&str, &str, &str, i64)] = &[
    ("CJX2-1810", "交流接触器", "个", 35_640),
    ("6205-2RS", "深沟球轴承", "套", 4_850),
    ("NTC-10K", "温度传感器", "只", 12_000),
    ("FUSE-32A", "熔断器 32A", "只", 1_580),
    ("IGBT-FF300", "IGBT 模块", "块", 268_000),
    ("FAN-120", "散热风扇", "台", 9_800),
    ("BAT-12V100", "蓄电池 12V100Ah", "节", 78_000),
    ("SEAL-KIT", "密封圈套件", "套", 6_600),
    ("BELT-B1600", "三角皮带 B1600", "条", 4_200),
    ("PCB-MAIN", "主控板", "块", 156_000),
];

/// One template item from its short description: `key`, label, kind, required.
fn titem(key: &str, label: &str, kind: ItemKind, required: bool) -> TemplateItem {
    TemplateItem {
        key: key.into(),
        label: label.into(),
        kind,
        required,
        safety: matches!(key, "ppe" | "gloves" | "barrier"),
    }
}

fn measured(unit: &str, min: Option<f64>, max: Option<f64>) -> ItemKind {
    ItemKind::Measured {
        unit: unit.into(),
        min,
        max,
    }
}

/// The safety items every electrical job starts with (installation manual §11–12).
fn safety_items(gloves: bool) -> Vec<TemplateItem> {
    let mut items = vec![titem(
        "ppe",
        "佩戴安全帽、穿防护服",
        ItemKind::PassFail,
        true,
    )];
    if gloves {
        items.push(titem("gloves", "佩戴绝缘手套", ItemKind::PassFail, true));
    }
    items.push(titem(
        "barrier",
        "设置安全围栏及警示牌",
        ItemKind::PassFail,
        true,
    ));
    items
}

/// The demo office's checklist templates 点检表: one per kind of job on equipment, and a
/// model-specific one for the dry-type transformer (it wins over the general one).
/// Consultations and training have none.
pub fn checklist_templates() -> Vec<ChecklistTemplate> {
    let template = |n: u128, name: &str, service, model: Option<&str>, extra: Vec<TemplateItem>| {
        let gloves = !matches!(service, ServiceType::Inspection);
        let mut items = safety_items(gloves);
        items.extend(extra);
        ChecklistTemplate {
            id: Uuid::from_u128(0xC4EC_0000 + n),
            name: name.into(),
            version: 1,
            service_type: service,
            equipment_model: model.map(str::to_owned),
            items,
        }
    };
    let pf = || ItemKind::PassFail;
    // The items several kinds of job share, written once.
    let power_off = || titem("power_off", "确认设备已断电并挂牌上锁", pf(), true);
    let insulation = || {
        titem(
            "insulation",
            "绝缘电阻测试",
            measured("MΩ", Some(0.5), None),
            true,
        )
    };
    let ground = || {
        titem(
            "ground",
            "接地电阻测试",
            measured("Ω", None, Some(4.0)),
            true,
        )
    };
    let bearing = || {
        titem(
            "temp",
            "轴承温度测量",
            measured("℃", None, Some(75.0)),
            true,
        )
    };
    let vibration = || {
        titem(
            "vibration",
            "振动值测量",
            measured("mm/s", None, Some(4.5)),
            true,
        )
    };
    vec![
        template(
            1,
            "故障维修点检表",
            ServiceType::Repair,
            None,
            vec![
                power_off(),
                insulation(),
                ground(),
                titem("voltage", "三相电压检查", pf(), true),
                titem("terminals", "接线端子紧固检查", pf(), true),
                titem("alarm", "报警记录导出", ItemKind::Text, false),
                titem("trial", "试运行 30 分钟", pf(), true),
                titem("photo", "完工照片", ItemKind::PhotoRequired, false),
            ],
        ),
        template(
            2,
            "定期保养点检表",
            ServiceType::Maintenance,
            None,
            vec![
                power_off(),
                insulation(),
                bearing(),
                vibration(),
                titem("filter", "滤网清洁", pf(), true),
                titem("lube", "润滑油脂补充", pf(), true),
                titem("fan", "冷却风扇运行检查", pf(), true),
                titem("clean", "现场清洁", pf(), false),
            ],
        ),
        template(
            3,
            "干式变压器保养点检表",
            ServiceType::Maintenance,
            Some("SCB11-1000/10"),
            vec![
                titem(
                    "power_off",
                    "确认高低压侧已断电、验电并挂接地线",
                    pf(),
                    true,
                ),
                titem(
                    "insulation",
                    "高压绕组绝缘电阻",
                    measured("MΩ", Some(300.0), None),
                    true,
                ),
                titem(
                    "winding_temp",
                    "绕组温度（温控器读数）",
                    measured("℃", None, Some(110.0)),
                    true,
                ),
                titem("fan_link", "温控器与风机联动试验", pf(), true),
                titem("dust", "清扫绕组及铁芯积尘", pf(), true),
                titem("bolts", "紧固件及接线排检查", pf(), true),
            ],
        ),
        template(
            4,
            "安装调试点检表",
            ServiceType::Installation,
            None,
            vec![
                titem("foundation", "基础水平度检查", pf(), true),
                titem("wiring", "接线与图纸核对", pf(), true),
                insulation(),
                ground(),
                titem("no_load", "空载试运行", pf(), true),
                titem("params", "参数设置记录", ItemKind::Text, true),
                titem("photo", "安装完工照片", ItemKind::PhotoRequired, false),
            ],
        ),
        template(
            5,
            "巡检点检表",
            ServiceType::Inspection,
            None,
            vec![
                titem("appearance", "外观及运行环境检查", pf(), true),
                bearing(),
                vibration(),
                titem("noise", "异常声响检查", pf(), true),
                titem("alarm", "报警记录", ItemKind::Text, false),
            ],
        ),
        template(
            6,
            "备件更换点检表",
            ServiceType::PartsReplacement,
            None,
            vec![
                power_off(),
                titem("old_part", "旧件型号与新件核对", pf(), true),
                titem("install", "新件安装紧固", pf(), true),
                titem("trial", "更换后试运行", pf(), true),
            ],
        ),
    ]
}

/// A generated world: customers, equipment, parts, orders and what hangs under them.
#[derive(Debug, Clone, Default)]
pub struct DemoData {
    pub customers: Vec<Customer>,
    pub equipment: Vec<Equipment>,
    pub parts: Vec<Part>,
    pub orders: Vec<WorkOrder>,
    pub checklist_items: Vec<ChecklistItem>,
    pub part_usages: Vec<PartUsage>,
}

/// Sizes of a generated world.
#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    pub customers: usize,
    pub equipment: usize,
    pub orders: usize,
    pub checklist_items_per_order: usize,
    pub part_usages_per_order: usize,
}

/// Generates a world from `seed`, all orders assigned to `engineer`, reported in the
/// days before `now`.
pub fn generate(seed: u64, size: DemoSize, engineer: Uuid, now: DateTime<Utc>) -> DemoData {
    let mut rng = Rng::new(seed);
    let mut d = DemoData::default();
    for i in 0..size.customers {
        let name = match COMPANIES.get(i) {
            Some(c) => (*c).to_owned(),
            None => format!("{}{}分厂", rng.pick(COMPANIES), i / COMPANIES.len() + 1),
        };
        let contact = format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN));
        d.customers.push(Customer {
            id: rng.uuid_v7(now),
            name,
            contact,
            phone: format!("1{}{:09}", 3 + rng.below(7), rng.below(1_000_000_000)),
            address: format!(
                "{}{}{}号",
                rng.pick(CITIES),
                rng.pick(STREETS),
                1 + rng.below(999)
            ),
            key_customer: rng.below(5) == 0,
            time_zone: None,
        });
    }
    for (i, &(number, name, unit, price)) in PARTS.iter().enumerate() {
        d.parts.push(Part {
            id: Uuid::from_u64_pair(0x0192_0000_0000_7000, 0x8000_0000_0000_0000 | i as u64),
            part_number: number.into(),
            name: name.into(),
            unit: unit.into(),
            unit_price: Fen(price),
        });
    }
    for _ in 0..size.equipment {
        let customer = rng.pick(&d.customers).id;
        let (model, kind) = *rng.pick(MODELS);
        let purchased = NaiveDate::from_ymd_opt(
            2020 + i32::try_from(rng.below(6)).unwrap_or(0),
            1 + u32::try_from(rng.below(12)).unwrap_or(0),
            1 + u32::try_from(rng.below(28)).unwrap_or(0),
        );
        d.equipment.push(Equipment {
            id: rng.uuid_v7(now),
            customer_id: customer,
            model: model.into(),
            serial: format!("{}{:06}", &model[..2], rng.below(1_000_000)),
            project_number: Some(format!("AB{:05}", rng.below(100_000))),
            kind: Some(kind.into()),
            size: None,
            small_device: false,
            location: Some(format!("{}号车间", 1 + rng.below(9))),
            commissioned_on: purchased.and_then(|p| p.checked_add_signed(Duration::days(30))),
            purchased_on: purchased,
            invoice_number: Some(format!("{:08}", rng.below(100_000_000))),
            warranty_until: purchased.and_then(|p| p.checked_add_signed(Duration::days(365 * 3))),
        });
    }
    let statuses = [
        Status::Assigned,
        Status::Assigned,
        Status::Accepted,
        Status::EnRoute,
        Status::OnSite,
        Status::Diagnosing,
        Status::InRepair,
        Status::Testing,
        Status::Postponed,
        Status::Completed,
    ];
    for n in 0..size.orders {
        let reported_at =
            now - Duration::minutes(i64::try_from(rng.below(60 * 24 * 14)).unwrap_or(0));
        let equipment = rng.pick(&d.equipment).clone();
        let customer = d
            .customers
            .iter()
            .find(|c| c.id == equipment.customer_id)
            .map_or(equipment.customer_id, |c| c.id);
        let in_warranty = equipment.in_warranty(reported_at.date_naive());
        let status = *rng.pick(&statuses);
        let id = rng.uuid_v7(reported_at);
        let service_type = *rng.pick(&ServiceType::ALL);
        d.orders.push(WorkOrder {
            id,
            number: format!("SC{}-{:05}", reported_at.format("%y%m"), n + 1),
            department: "SC".into(),
            customer_id: customer,
            equipment_id: Some(equipment.id),
            service_type,
            fault_level: u8::try_from(1 + rng.below(4)).unwrap_or(3),
            channel: *rng.pick(&[
                Channel::Hotline,
                Channel::Website,
                Channel::Email,
                Channel::SalesRep,
                Channel::System,
            ]),
            status,
            reported_at,
            fault_description: rng.pick(FAULTS).to_string(),
            expected_completion: None,
            requested_service_at: Some(reported_at + Duration::hours(24)),
            scheduled_at: Some(
                reported_at + Duration::hours(i64::try_from(2 + rng.below(48)).unwrap_or(2)),
            ),
            warranty: if in_warranty {
                WarrantyStatus::InWarranty
            } else {
                WarrantyStatus::OutOfWarranty
            },
            paid: !in_warranty,
            charge_cause: None,
            complex: rng.below(4) == 0,
            assignees: vec![Assignment {
                engineer_id: engineer,
                manager: false,
                name: None,
            }],
            recorded_by: Some(format!("客服{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))),
            service_record_number: None,
            service_record_waiting: None,
            outside_main_city: false,
            arrived_at: None,
            diagnosis: None,
            repair_result: None,
            repair_started_at: None,
            repair_ended_at: None,
            outcome: None,
            postpone_reason: None,
        });
        for (pos, &(key, label)) in CHECK_ITEMS
            .iter()
            .cycle()
            .take(size.checklist_items_per_order)
            .enumerate()
        {
            let kind = match key {
                "insulation" => ItemKind::Measured {
                    unit: "MΩ".into(),
                    min: Some(0.5),
                    max: None,
                },
                "temp" => ItemKind::Measured {
                    unit: "℃".into(),
                    min: None,
                    max: Some(75.0),
                },
                "photo" => ItemKind::PhotoRequired,
                "alarm" | "firmware" => ItemKind::Text,
                _ => ItemKind::PassFail,
            };
            let answered =
                status.is_finished() || (status >= Status::InRepair && rng.below(2) == 0);
            d.checklist_items.push(ChecklistItem {
                id: rng.uuid_v7(reported_at),
                work_order_id: id,
                template_id: None,
                template_version: None,
                position: u32::try_from(pos).unwrap_or(0),
                key: key.into(),
                label: label.into(),
                kind,
                required: pos < 4 || rng.below(2) == 0,
                safety: pos < 3,
                answer: answered.then(|| demo_answer(key, id)),
                note: None,
                answered_by: answered.then_some(engineer),
                answered_at: answered.then_some(reported_at + Duration::hours(3)),
                cross_checked_by: None,
                cross_checked_at: None,
            });
        }
        for _ in 0..size.part_usages_per_order {
            let part = rng.pick(&d.parts).clone();
            let warranty = in_warranty && rng.below(3) != 0;
            d.part_usages.push(PartUsage {
                id: rng.uuid_v7(reported_at),
                work_order_id: id,
                part_id: part.id,
                quantity: u32::try_from(1 + rng.below(3)).unwrap_or(1),
                warranty,
                unit_price: Some(part.unit_price),
                old_part: Some(*rng.pick(&[
                    OldPartDisposition::CustomerKeeps,
                    OldPartDisposition::ReturnForRepair,
                    OldPartDisposition::Scrap,
                ])),
                from_van_stock: rng.below(2) == 0,
                voids: None,
            });
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_templates_validate_and_the_transformer_gets_its_own() {
        let templates = checklist_templates();
        for t in &templates {
            t.validate().unwrap_or_else(|e| panic!("{}: {e}", t.name));
        }
        let pick = |s, m| ChecklistTemplate::pick(&templates, s, m).map(|t| t.name.as_str());
        assert_eq!(
            pick(ServiceType::Maintenance, Some("SCB11-1000/10")),
            Some("干式变压器保养点检表")
        );
        assert_eq!(
            pick(ServiceType::Maintenance, Some("YKK-450-4")),
            Some("定期保养点检表")
        );
        assert_eq!(pick(ServiceType::Repair, None), Some("故障维修点检表"));
        assert_eq!(pick(ServiceType::Consultation, Some("YKK-450-4")), None);
    }

    #[test]
    fn the_same_seed_gives_the_same_world_and_orders_validate() {
        let size = DemoSize {
            customers: 20,
            equipment: 40,
            orders: 50,
            checklist_items_per_order: 20,
            part_usages_per_order: 5,
        };
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let a = generate(7, size, Uuid::nil(), now);
        let b = generate(7, size, Uuid::nil(), now);
        assert_eq!(a.orders, b.orders);
        assert_eq!(a.checklist_items.len(), 1000);
        assert_eq!(a.part_usages.len(), 250);
        for o in &a.orders {
            o.validate().expect("generated orders are valid");
            assert!(
                a.equipment
                    .iter()
                    .any(|e| Some(e.id) == o.equipment_id && e.customer_id == o.customer_id)
            );
        }
    }
}
