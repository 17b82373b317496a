-- Each image's live properties, tags and locations as one JSON value in `images.children`,
-- kept by the database itself (statement triggers on the three child tables), so reading an
-- image is one row: no aggregate subqueries per read, and no write path can forget it.
-- Glance's own columns are unchanged; this column is ours and read only by glance-rs.

ALTER TABLE images ADD COLUMN children JSON;

CREATE FUNCTION glance_rs_image_children(image_id VARCHAR) RETURNS JSON
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'properties', COALESCE((SELECT json_object_agg(p.name, COALESCE(p.value, ''))
            FROM image_properties p WHERE p.image_id = $1 AND NOT p.deleted), '{}'::json),
        'tags', COALESCE((SELECT json_agg(t.value ORDER BY t.id)
            FROM image_tags t WHERE t.image_id = $1 AND NOT t.deleted), '[]'::json),
        'locations', COALESCE((SELECT json_agg(json_build_object('id', l.id, 'url', l.value,
                'metadata', l.meta_data, 'status', l.status) ORDER BY l.id)
            FROM image_locations l WHERE l.image_id = $1 AND NOT l.deleted), '[]'::json))
$$;

CREATE FUNCTION glance_rs_refresh_children() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE images SET children = glance_rs_image_children(images.id)
    WHERE images.id IN (SELECT DISTINCT changed_rows.image_id FROM changed_rows);
    RETURN NULL;
END
$$;

CREATE TRIGGER image_properties_inserted AFTER INSERT ON image_properties
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children();
CREATE TRIGGER image_properties_updated AFTER UPDATE ON image_properties
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children();
CREATE TRIGGER image_properties_deleted AFTER DELETE ON image_properties
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children();

CREATE TRIGGER image_tags_inserted AFTER INSERT ON image_tags
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children();
CREATE TRIGGER image_tags_updated AFTER UPDATE ON image_tags
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children();
CREATE TRIGGER image_tags_deleted AFTER DELETE ON image_tags
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children();

CREATE TRIGGER image_locations_inserted AFTER INSERT ON image_locations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children();
CREATE TRIGGER image_locations_updated AFTER UPDATE ON image_locations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children();
CREATE TRIGGER image_locations_deleted AFTER DELETE ON image_locations
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children();

UPDATE images SET children = glance_rs_image_children(images.id);
