-- Indexes for image lists that stay as fast at a million images as at a thousand
-- (docs/performance.md, "Scale"). Additive only: Glance's tables, columns and indexes are
-- unchanged, and Glance ignores indexes it did not make.
-- - the default order (created_at, id) and sort=name (COALESCE(name, ''), created_at, id), so
--   a page, and the page after a marker (a row-value comparison on the same keys), is read
--   from the index in order instead of sorting every visible row;
-- - the caller's member rows (a non-admin's scope, and visibility=shared pages), and images by
--   tag (a tag filter that matches few images).
-- On a large existing database each CREATE INDEX holds writes to its table until it is built.
CREATE INDEX IF NOT EXISTS glance_rs_images_created_at_id ON images (created_at, id);
CREATE INDEX IF NOT EXISTS glance_rs_images_name_created_at_id
    ON images ((COALESCE(name, '')), created_at, id);
CREATE INDEX IF NOT EXISTS glance_rs_image_members_member ON image_members (member, image_id);
CREATE INDEX IF NOT EXISTS glance_rs_image_tags_value ON image_tags (value, image_id);
