-- A member's tag and property pages decided on the tag's own index rows; PostgreSQL's migration
-- 9 says why. Each tag and property row now also carries its image's `visibility` and `owner`,
-- kept by triggers whoever writes the row, and the walk's index holds them (SQLite's indexes
-- also hold the rowid, `id`), so a member's walk reads only the images of its page. SQLite has
-- one writer at a time, so no write can slip between a row's copy and its image's change.
ALTER TABLE image_tags ADD COLUMN glance_rs_image_visibility VARCHAR(9);
ALTER TABLE image_tags ADD COLUMN glance_rs_image_owner VARCHAR(255);
ALTER TABLE image_properties ADD COLUMN glance_rs_image_visibility VARCHAR(9);
ALTER TABLE image_properties ADD COLUMN glance_rs_image_owner VARCHAR(255);

DROP TRIGGER IF EXISTS glance_rs_image_tags_created_at;
DROP TRIGGER IF EXISTS glance_rs_image_tags_moved;
DROP TRIGGER IF EXISTS glance_rs_image_properties_created_at;
DROP TRIGGER IF EXISTS glance_rs_image_properties_moved;
DROP TRIGGER IF EXISTS glance_rs_images_created_at_moved;

CREATE TRIGGER glance_rs_image_tags_copies AFTER INSERT ON image_tags FOR EACH ROW
BEGIN
    UPDATE image_tags SET
        (glance_rs_image_created_at, glance_rs_image_visibility, glance_rs_image_owner) =
        (SELECT images.created_at, images.visibility, images.owner FROM images
         WHERE images.id = NEW.image_id)
    WHERE image_tags.id = NEW.id;
END;

CREATE TRIGGER glance_rs_image_tags_moved AFTER UPDATE OF image_id ON image_tags FOR EACH ROW
BEGIN
    UPDATE image_tags SET
        (glance_rs_image_created_at, glance_rs_image_visibility, glance_rs_image_owner) =
        (SELECT images.created_at, images.visibility, images.owner FROM images
         WHERE images.id = NEW.image_id)
    WHERE image_tags.id = NEW.id;
END;

CREATE TRIGGER glance_rs_image_properties_copies AFTER INSERT ON image_properties
FOR EACH ROW
BEGIN
    UPDATE image_properties SET
        (glance_rs_image_created_at, glance_rs_image_visibility, glance_rs_image_owner) =
        (SELECT images.created_at, images.visibility, images.owner FROM images
         WHERE images.id = NEW.image_id)
    WHERE image_properties.id = NEW.id;
END;

CREATE TRIGGER glance_rs_image_properties_moved AFTER UPDATE OF image_id ON image_properties
FOR EACH ROW
BEGIN
    UPDATE image_properties SET
        (glance_rs_image_created_at, glance_rs_image_visibility, glance_rs_image_owner) =
        (SELECT images.created_at, images.visibility, images.owner FROM images
         WHERE images.id = NEW.image_id)
    WHERE image_properties.id = NEW.id;
END;

-- An image made public, shared or private again, or given to another owner: its rows follow.
CREATE TRIGGER glance_rs_images_copies_moved
AFTER UPDATE OF created_at, visibility, owner ON images FOR EACH ROW
WHEN OLD.created_at IS NOT NEW.created_at OR OLD.visibility IS NOT NEW.visibility
    OR OLD.owner IS NOT NEW.owner
BEGIN
    UPDATE image_tags SET glance_rs_image_created_at = NEW.created_at,
        glance_rs_image_visibility = NEW.visibility, glance_rs_image_owner = NEW.owner
    WHERE image_tags.image_id = NEW.id;
    UPDATE image_properties SET glance_rs_image_created_at = NEW.created_at,
        glance_rs_image_visibility = NEW.visibility, glance_rs_image_owner = NEW.owner
    WHERE image_properties.image_id = NEW.id;
END;

UPDATE image_tags SET (glance_rs_image_visibility, glance_rs_image_owner) =
    (SELECT images.visibility, images.owner FROM images WHERE images.id = image_tags.image_id);
UPDATE image_properties SET (glance_rs_image_visibility, glance_rs_image_owner) =
    (SELECT images.visibility, images.owner FROM images
     WHERE images.id = image_properties.image_id);

-- Version 8's walk indexes, now holding what a member's walk checks.
DROP INDEX IF EXISTS glance_rs_image_tags_live_value_created_at;
DROP INDEX IF EXISTS glance_rs_image_properties_live_value_created_at;
CREATE INDEX IF NOT EXISTS glance_rs_image_tags_live_walk
    ON image_tags (value, glance_rs_image_created_at, image_id, glance_rs_image_visibility,
                   glance_rs_image_owner) WHERE NOT deleted;
CREATE INDEX IF NOT EXISTS glance_rs_image_properties_live_walk
    ON image_properties (name, value, glance_rs_image_created_at, image_id,
                         glance_rs_image_visibility, glance_rs_image_owner) WHERE NOT deleted;
