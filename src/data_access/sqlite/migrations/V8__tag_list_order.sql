-- Tag pages read in list order (docs/performance.md, "Scale"); PostgreSQL's migration 8 says
-- why. Each tag row carries a copy of its image's `created_at`, kept by triggers whoever writes
-- the row, and an index on (value, that copy, image_id) over live tags holds every tag's images
-- in the default list order. Additive: a nullable column of ours on Glance's table.
ALTER TABLE image_tags ADD COLUMN glance_rs_image_created_at DATETIME;

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

-- Neither Glance nor glance-api changes an image's created_at; should anything, its tags follow.
CREATE TRIGGER glance_rs_images_created_at_moved AFTER UPDATE OF created_at ON images
FOR EACH ROW WHEN OLD.created_at IS NOT NEW.created_at
BEGIN
    UPDATE image_tags SET glance_rs_image_created_at = NEW.created_at
    WHERE image_tags.image_id = NEW.id;
END;

UPDATE image_tags SET glance_rs_image_created_at =
    (SELECT images.created_at FROM images WHERE images.id = image_tags.image_id);

CREATE INDEX IF NOT EXISTS glance_rs_image_tags_live_value_created_at
    ON image_tags (value, glance_rs_image_created_at, image_id) WHERE NOT deleted;
