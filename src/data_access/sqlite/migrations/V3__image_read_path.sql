-- Version 3 gives PostgreSQL's `images.children` a default; SQLite has no such column. This
-- version keeps both backends' schema versions in step.
SELECT 1;
