-- Version 2 adds `images.children` on PostgreSQL: its image reads aggregate properties, tags
-- and locations at write time (triggers). SQLite's one-statement read is already fast, so its
-- schema is unchanged; this version keeps both backends' schema versions in step.
SELECT 1;
