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

-- One statement trigger per child table and event: <table>_inserted, _updated, _deleted.
DO $$
DECLARE
    child TEXT;
BEGIN
    FOREACH child IN ARRAY ARRAY['image_properties', 'image_tags', 'image_locations'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS '
            'changed_rows FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children()',
            child || '_inserted', child);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS '
            'changed_rows FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children()',
            child || '_updated', child);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS '
            'changed_rows FOR EACH STATEMENT EXECUTE FUNCTION glance_rs_refresh_children()',
            child || '_deleted', child);
    END LOOP;
END
$$;

UPDATE images SET children = glance_rs_image_children(images.id);
