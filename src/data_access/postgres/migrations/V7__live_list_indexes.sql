-- The list indexes of schema version 5 hold live images only (partial, WHERE NOT deleted), as
-- the list statement asks for them (`NOT images.deleted`). Glance soft-deletes: a deleted
-- image keeps its row until `glance-manage db purge`, and the newest rows are often the
-- deleted ones (images made and dropped by CI jobs). A full index made the first page walk
-- every deleted row newer than the 20th live image (the soak, docs/performance.md: list 20
-- went from 1 ms to 4.5 ms in three minutes of create+delete). Only glance-api's own indexes
-- change; Glance's are untouched.
-- The default order has two: on created_at alone, which PostgreSQL prefers for a first page
-- (it costs a two-column index as less correlated with the table than Glance's
-- created_at_image_idx, and would walk that one, deleted rows and all; ties on id are sorted
-- within one created_at), and on (created_at, id), whose row comparison after a marker is
-- wholly an index condition (with only the first, a member's deep page walked the name index
-- instead). tests/integration/postgres/plans.rs checks both cases.
CREATE INDEX IF NOT EXISTS glance_rs_images_live_created_at ON images (created_at)
    WHERE NOT deleted;
CREATE INDEX IF NOT EXISTS glance_rs_images_live_created_at_id ON images (created_at, id)
    WHERE NOT deleted;
CREATE INDEX IF NOT EXISTS glance_rs_images_live_name_created_at_id
    ON images ((COALESCE(name, '')), created_at, id) WHERE NOT deleted;
DROP INDEX IF EXISTS glance_rs_images_created_at_id;
DROP INDEX IF EXISTS glance_rs_images_name_created_at_id;
