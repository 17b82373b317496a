-- A property stored with a NULL value (Glance stores one for `"kernel_id": null`, which the
-- image schema allows for its nullable properties) is `null` in images.children, as Glance
-- shows it, no longer "". Only the function changes; rows that hold such a property are
-- recomputed.
CREATE OR REPLACE FUNCTION glance_rs_image_children(image_id VARCHAR) RETURNS JSON
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'properties', COALESCE((SELECT json_object_agg(p.name, p.value)
            FROM image_properties p WHERE p.image_id = $1 AND NOT p.deleted), '{}'::json),
        'tags', COALESCE((SELECT json_agg(t.value ORDER BY t.id)
            FROM image_tags t WHERE t.image_id = $1 AND NOT t.deleted), '[]'::json),
        'locations', COALESCE((SELECT json_agg(json_build_object('id', l.id, 'url', l.value,
                'metadata', l.meta_data, 'status', l.status) ORDER BY l.id)
            FROM image_locations l WHERE l.image_id = $1 AND NOT l.deleted), '[]'::json))
$$;

UPDATE images SET children = glance_rs_image_children(images.id)
WHERE images.id IN (SELECT p.image_id FROM image_properties p
                    WHERE p.value IS NULL AND NOT p.deleted);
