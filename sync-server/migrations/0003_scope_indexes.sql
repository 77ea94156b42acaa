-- Which orders point at a customer or a piece of equipment: the pull checks, row by row,
-- whether a customer or equipment record is in the engineer's scope through these, so a
-- page costs its own size rather than the size of the engineer's whole scope.
CREATE INDEX records_customer_ref ON records (customer_ref) WHERE customer_ref IS NOT NULL;
CREATE INDEX records_equipment_ref ON records (equipment_ref) WHERE equipment_ref IS NOT NULL;
