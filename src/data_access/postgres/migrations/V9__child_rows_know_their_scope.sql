-- A member's tag and property pages decided on the tag's own index rows (src/data_access/sql/
-- walk.rs, docs/performance.md "Scale"). With schema version 8 a page walks a tag's rows in
-- list order, but a member who sees 15 % of a million images had to read each walked row's
-- image (a random page of a 355 MB heap) to learn whether it may see it: ~133 image probes for
-- a page of 20. Each tag and property row now also carries its image's `visibility` and
-- `owner`, and the walk's index holds them (with the row's `id`, for the twin-tag check), so
-- the rows the member may not see are dropped from the index alone and only the page's images
-- are read. The images' own scope is still checked on every image read: a copy out of step
-- could hide an image, never show one.
-- Additive, as version 8: nullable columns of ours on Glance's tables, kept by triggers whoever
-- writes the row (glance-api, real Glance in a mixed fleet, plain SQL).
ALTER TABLE image_tags
    ADD COLUMN IF NOT EXISTS glance_rs_image_visibility image_visibility,
    ADD COLUMN IF NOT EXISTS glance_rs_image_owner VARCHAR(255);
ALTER TABLE image_properties
    ADD COLUMN IF NOT EXISTS glance_rs_image_visibility image_visibility,
    ADD COLUMN IF NOT EXISTS glance_rs_image_owner VARCHAR(255);

-- The image row is locked as an UPDATE of it would be: a concurrent change of the image's
-- visibility or owner then either commits first (and this row copies the new values) or waits
-- for this row's transaction (and its trigger below then sees this row). `FOR SHARE` would
-- deadlock two writers of one image's tags, as the child tables' statement triggers (schema
-- version 2) then update the image row.
CREATE OR REPLACE FUNCTION glance_rs_child_image_copies() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    SELECT images.created_at, images.visibility, images.owner
    INTO NEW.glance_rs_image_created_at, NEW.glance_rs_image_visibility,
         NEW.glance_rs_image_owner
    FROM images WHERE images.id = NEW.image_id
    FOR NO KEY UPDATE;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS image_tags_image_created_at ON image_tags;
DROP TRIGGER IF EXISTS image_properties_image_created_at ON image_properties;
CREATE TRIGGER image_tags_image_copies BEFORE INSERT OR UPDATE OF image_id ON image_tags
    FOR EACH ROW EXECUTE FUNCTION glance_rs_child_image_copies();
CREATE TRIGGER image_properties_image_copies
    BEFORE INSERT OR UPDATE OF image_id ON image_properties
    FOR EACH ROW EXECUTE FUNCTION glance_rs_child_image_copies();
DROP FUNCTION IF EXISTS glance_rs_child_image_created_at();

-- An image made public, shared or private again, or given to another owner: its rows follow.
CREATE OR REPLACE FUNCTION glance_rs_image_copies_moved() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE image_tags SET glance_rs_image_created_at = NEW.created_at,
        glance_rs_image_visibility = NEW.visibility, glance_rs_image_owner = NEW.owner
    WHERE image_tags.image_id = NEW.id;
    UPDATE image_properties SET glance_rs_image_created_at = NEW.created_at,
        glance_rs_image_visibility = NEW.visibility, glance_rs_image_owner = NEW.owner
    WHERE image_properties.image_id = NEW.id;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS images_created_at_moved ON images;
CREATE TRIGGER images_copies_moved AFTER UPDATE OF created_at, visibility, owner ON images
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
                       OR OLD.visibility IS DISTINCT FROM NEW.visibility
                       OR OLD.owner IS DISTINCT FROM NEW.owner)
    EXECUTE FUNCTION glance_rs_image_copies_moved();
DROP FUNCTION IF EXISTS glance_rs_image_created_at_moved();

-- The backfill changes no value `images.children` shows (see version 8).
ALTER TABLE image_tags DISABLE TRIGGER image_tags_updated;
ALTER TABLE image_properties DISABLE TRIGGER image_properties_updated;
UPDATE image_tags SET glance_rs_image_visibility = images.visibility,
    glance_rs_image_owner = images.owner
FROM images
WHERE images.id = image_tags.image_id;
UPDATE image_properties SET glance_rs_image_visibility = images.visibility,
    glance_rs_image_owner = images.owner
FROM images
WHERE images.id = image_properties.image_id;
ALTER TABLE image_tags ENABLE TRIGGER image_tags_updated;
ALTER TABLE image_properties ENABLE TRIGGER image_properties_updated;

-- Version 8's walk indexes, now holding what a member's walk checks.
DROP INDEX IF EXISTS glance_rs_image_tags_live_value_created_at;
DROP INDEX IF EXISTS glance_rs_image_properties_live_value_created_at;
CREATE INDEX IF NOT EXISTS glance_rs_image_tags_live_walk
    ON image_tags (value, glance_rs_image_created_at, image_id)
    INCLUDE (glance_rs_image_visibility, glance_rs_image_owner, id) WHERE NOT deleted;
CREATE INDEX IF NOT EXISTS glance_rs_image_properties_live_walk
    ON image_properties (name, value, glance_rs_image_created_at, image_id)
    INCLUDE (glance_rs_image_visibility, glance_rs_image_owner)
    WHERE NOT deleted AND length(value) <= 256;
