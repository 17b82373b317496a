-- Tag and property pages read in list order (src/data_access/sql/walk.rs, docs/performance.md
-- "Scale"). A page filtered by a tag on 2 % of a million images walked the list in order and
-- probed `image_tags` once per image walked (1,000 probes for an admin, 6,700 rows for a
-- member): not flat. Each tag and property row now carries a copy of its image's
-- `created_at`, so an index over live rows on (value, that copy, image_id) holds every tag's
-- images in the default list order, and a page reads about 20 index entries (admin) or 20 ÷
-- the share of images the caller sees (a member). Only property values of up to 256 characters
-- are indexed: B-tree entries are limited to ~2,700 bytes and Glance allows 65,535 (a filter
-- on a longer value walks the images, src/data_access/sql/walk.rs).
-- Additive: nullable columns of ours on Glance's tables (Glance's ORM names the columns it
-- writes and never reads these) and triggers that keep them right whoever writes the row
-- (glance-api, real Glance in a mixed fleet, plain SQL). On a large database the backfill
-- and the indexes take a while (a million images: about a minute) and hold writes meanwhile.
ALTER TABLE image_tags
    ADD COLUMN IF NOT EXISTS glance_rs_image_created_at TIMESTAMP WITHOUT TIME ZONE;
ALTER TABLE image_properties
    ADD COLUMN IF NOT EXISTS glance_rs_image_created_at TIMESTAMP WITHOUT TIME ZONE;

CREATE OR REPLACE FUNCTION glance_rs_child_image_created_at() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    NEW.glance_rs_image_created_at := (SELECT images.created_at FROM images
                                       WHERE images.id = NEW.image_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER image_tags_image_created_at BEFORE INSERT OR UPDATE OF image_id ON image_tags
    FOR EACH ROW EXECUTE FUNCTION glance_rs_child_image_created_at();
CREATE TRIGGER image_properties_image_created_at
    BEFORE INSERT OR UPDATE OF image_id ON image_properties
    FOR EACH ROW EXECUTE FUNCTION glance_rs_child_image_created_at();

-- Neither Glance nor glance-api changes an image's created_at; should anything, its rows follow.
CREATE OR REPLACE FUNCTION glance_rs_image_created_at_moved() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE image_tags SET glance_rs_image_created_at = NEW.created_at
    WHERE image_tags.image_id = NEW.id;
    UPDATE image_properties SET glance_rs_image_created_at = NEW.created_at
    WHERE image_properties.image_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER images_created_at_moved AFTER UPDATE OF created_at ON images
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION glance_rs_image_created_at_moved();

-- The backfill changes no value `images.children` shows: the child tables' statement
-- triggers (schema version 2) are held off meanwhile rather than recompute every image.
ALTER TABLE image_tags DISABLE TRIGGER image_tags_updated;
ALTER TABLE image_properties DISABLE TRIGGER image_properties_updated;
UPDATE image_tags SET glance_rs_image_created_at = images.created_at
FROM images
WHERE images.id = image_tags.image_id
  AND image_tags.glance_rs_image_created_at IS DISTINCT FROM images.created_at;
UPDATE image_properties SET glance_rs_image_created_at = images.created_at
FROM images
WHERE images.id = image_properties.image_id
  AND image_properties.glance_rs_image_created_at IS DISTINCT FROM images.created_at;
ALTER TABLE image_tags ENABLE TRIGGER image_tags_updated;
ALTER TABLE image_properties ENABLE TRIGGER image_properties_updated;

CREATE INDEX IF NOT EXISTS glance_rs_image_tags_live_value_created_at
    ON image_tags (value, glance_rs_image_created_at, image_id) WHERE NOT deleted;
CREATE INDEX IF NOT EXISTS glance_rs_image_properties_live_value_created_at
    ON image_properties (name, value, glance_rs_image_created_at, image_id)
    WHERE NOT deleted AND length(value) <= 256;

-- Images in transit, which every node's recovery pass looks for at start and every
-- `stale_upload_seconds / 4` (src/recovery.rs: `saving`, `uploading` and `importing` images
-- untouched for too long): without an index each pass read the whole images table (350 MB at a
-- million images) three times. Partial, so it holds only the few images in transit and changes
-- only when one enters or leaves.
CREATE INDEX IF NOT EXISTS glance_rs_images_in_transit ON images (status, updated_at)
    WHERE status IN ('saving', 'uploading', 'importing') AND NOT deleted;
