-- Tag pages read in list order (docs/performance.md, "Scale"). A page filtered by a tag on 2 %
-- of a million images walked the list in order and probed `image_tags` once per image walked
-- (1,000 probes for an admin, 6,700 rows for a member): not flat. Each tag row now carries a
-- copy of its image's `created_at`, so an index on (value, that copy, image_id) over live tags
-- holds every tag's images in the default list order, and a tag page reads about 20 index
-- entries (admin) or 20 ÷ the share of images the caller sees (a member).
-- Additive: a nullable column of ours on Glance's table (Glance's ORM names the columns it
-- writes and never reads this one) and triggers that keep it right whoever writes the row
-- (glance-api, real Glance in a mixed fleet, plain SQL).
ALTER TABLE image_tags ADD COLUMN IF NOT EXISTS glance_rs_image_created_at TIMESTAMP WITHOUT TIME ZONE;

CREATE OR REPLACE FUNCTION glance_rs_tag_image_created_at() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    NEW.glance_rs_image_created_at := (SELECT images.created_at FROM images
                                       WHERE images.id = NEW.image_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER image_tags_image_created_at BEFORE INSERT OR UPDATE OF image_id ON image_tags
    FOR EACH ROW EXECUTE FUNCTION glance_rs_tag_image_created_at();

-- Neither Glance nor glance-api changes an image's created_at; should anything, its tags follow.
CREATE OR REPLACE FUNCTION glance_rs_image_created_at_moved() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE image_tags SET glance_rs_image_created_at = NEW.created_at
    WHERE image_tags.image_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER images_created_at_moved AFTER UPDATE OF created_at ON images
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION glance_rs_image_created_at_moved();

UPDATE image_tags SET glance_rs_image_created_at = images.created_at
FROM images
WHERE images.id = image_tags.image_id
  AND image_tags.glance_rs_image_created_at IS DISTINCT FROM images.created_at;

CREATE INDEX IF NOT EXISTS glance_rs_image_tags_live_value_created_at
    ON image_tags (value, glance_rs_image_created_at, image_id) WHERE NOT deleted;
