-- Tag and property pages read in list order (src/data_access/sql/walk.rs); PostgreSQL's
-- migration 8 says why. Each tag and property row carries a copy of its image's `created_at`,
-- kept by triggers whoever writes the row, and an index over live rows on (value, that copy,
-- image_id) holds every tag's or property's images in the default list order. Additive:
-- nullable columns of ours on Glance's tables.
ALTER TABLE image_tags ADD COLUMN glance_rs_image_created_at DATETIME;
ALTER TABLE image_properties ADD COLUMN glance_rs_image_created_at DATETIME;

CREATE TRIGGER glance_rs_image_tags_created_at AFTER INSERT ON image_tags FOR EACH ROW
BEGIN
    UPDATE image_tags SET glance_rs_image_created_at =
        (SELECT images.created_at FROM images WHERE images.id = NEW.image_id)
    WHERE image_tags.id = NEW.id;
END;

CREATE TRIGGER glance_rs_image_tags_moved AFTER UPDATE OF image_id ON image_tags FOR EACH ROW
BEGIN
    UPDATE image_tags SET glance_rs_image_created_at =
        (SELECT images.created_at FROM images WHERE images.id = NEW.image_id)
    WHERE image_tags.id = NEW.id;
END;

CREATE TRIGGER glance_rs_image_properties_created_at AFTER INSERT ON image_properties
FOR EACH ROW
BEGIN
    UPDATE image_properties SET glance_rs_image_created_at =
        (SELECT images.created_at FROM images WHERE images.id = NEW.image_id)
    WHERE image_properties.id = NEW.id;
END;

CREATE TRIGGER glance_rs_image_properties_moved AFTER UPDATE OF image_id ON image_properties
FOR EACH ROW
BEGIN
    UPDATE image_properties SET glance_rs_image_created_at =
        (SELECT images.created_at FROM images WHERE images.id = NEW.image_id)
    WHERE image_properties.id = NEW.id;
END;

-- Neither Glance nor glance-api changes an image's created_at; should anything, its rows follow.
CREATE TRIGGER glance_rs_images_created_at_moved AFTER UPDATE OF created_at ON images
FOR EACH ROW WHEN OLD.created_at IS NOT NEW.created_at
BEGIN
    UPDATE image_tags SET glance_rs_image_created_at = NEW.created_at
    WHERE image_tags.image_id = NEW.id;
    UPDATE image_properties SET glance_rs_image_created_at = NEW.created_at
    WHERE image_properties.image_id = NEW.id;
END;

UPDATE image_tags SET glance_rs_image_created_at =
    (SELECT images.created_at FROM images WHERE images.id = image_tags.image_id);
UPDATE image_properties SET glance_rs_image_created_at =
    (SELECT images.created_at FROM images WHERE images.id = image_properties.image_id);

CREATE INDEX IF NOT EXISTS glance_rs_image_tags_live_value_created_at
    ON image_tags (value, glance_rs_image_created_at, image_id) WHERE NOT deleted;
CREATE INDEX IF NOT EXISTS glance_rs_image_properties_live_value_created_at
    ON image_properties (name, value, glance_rs_image_created_at, image_id) WHERE NOT deleted;
