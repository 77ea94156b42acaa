-- An engineer's assignments in order id order: a first-sync snapshot walks them so that
-- the records under orders arrive grouped and sorted by order, which is the order of the
-- laptop's index of records by order (appending to it instead of inserting all over it).
CREATE INDEX assignments_engineer_order ON assignments (engineer_id, work_order_id);
