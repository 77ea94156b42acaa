// The app's own commands are declared here, so that the window may call only those its
// capability (capabilities/default.json) grants: least privilege.
const COMMANDS: &[&str] = &[
    "app_info",
    "set_language",
    "sign_in",
    "sign_out",
    "list_orders",
    "search_orders",
    "order_detail",
    "transition_order",
    "answer_checklist_item",
    "record_arrival_call",
    "check_in_out",
    "save_diagnosis",
    "van_stock",
    "add_part",
    "cancel_part",
    "back_at_hq",
    "price_quote",
    "present_quote",
    "approve_quote",
    "decline_quote",
    "settle",
    "save_result",
    "record_satisfaction",
    "sign_document",
    "resolve_remotely",
    "customer_equipment",
    "register_request",
    "previous_reports",
    "previous_report_pdf",
    "write_log",
    "record_time",
    "record_expense",
    "cross_check_item",
    "record_milestone",
    "record_training",
    "acknowledge_problems",
    "photo",
    "import_photo",
    "photo_thumbnail",
    "document_pdf",
    "save_document",
    "open_document",
    "sync_now",
    "sync_status",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("tauri build step failed: {e:#}");
        std::process::exit(1);
    }
}
