-- A pull for an engineer whose cursor is far behind the log but who has few orders reads
-- their orders' recent changes directly (`records_work_order` by order, then by position)
-- and the changes outside any order in log order (`records_outside_orders`), instead of
-- walking every change since the cursor: with 200 engineers syncing, each pull walked
-- everyone else's changes. Records outside orders never carry an order id.
UPDATE records SET work_order_id = NULL
 WHERE entity IN ('customer', 'equipment', 'van_stock', 'part', 'checklist_template',
                  'fault_levels', 'fee_schedule', 'company');
DROP INDEX records_work_order;
CREATE INDEX records_work_order ON records (work_order_id, seq) WHERE work_order_id IS NOT NULL;
CREATE INDEX records_outside_orders ON records (seq) WHERE work_order_id IS NULL;
