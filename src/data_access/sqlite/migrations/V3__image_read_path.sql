-- Version 3 gives PostgreSQL's `images.children` a default and a membership function for its
-- image select; SQLite has neither. This version keeps both backends' schema versions in step.
SELECT 1;
