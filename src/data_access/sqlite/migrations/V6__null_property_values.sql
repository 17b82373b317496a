-- Schema version 6 on both backends: on PostgreSQL it makes images.children keep a NULL
-- property value as null. SQLite reads properties from image_properties at read time
-- (src/data_access/sqlite/rows.rs), so nothing changes here; the version stays in step.
SELECT 1;
