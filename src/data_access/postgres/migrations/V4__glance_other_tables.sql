-- The rest of Glance 33's schema, as its `glance-manage db_sync` leaves it on PostgreSQL
-- (pg_dump of a real Glance 33.0.0 database), and its alembic revision: a database made by
-- `glance-api db-sync` is then a Glance database that real Glance accepts as up to date
-- (`glance-manage db_sync` does nothing) and serves. glance-rs itself does not use these
-- tables. On a database Glance made (adopted by db-sync) every table already exists and the
-- revision row is there: each statement is then a no-op.

CREATE TABLE IF NOT EXISTS tasks (
    id VARCHAR(36) NOT NULL,
    type VARCHAR(30) NOT NULL,
    status VARCHAR(30) NOT NULL,
    owner VARCHAR(255) NOT NULL,
    expires_at TIMESTAMP WITHOUT TIME ZONE,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    deleted_at TIMESTAMP WITHOUT TIME ZONE,
    deleted BOOLEAN NOT NULL,
    image_id VARCHAR(36),
    request_id VARCHAR(64),
    user_id VARCHAR(64),
    CONSTRAINT tasks_pkey PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS ix_tasks_deleted ON tasks (deleted);
CREATE INDEX IF NOT EXISTS ix_tasks_image_id ON tasks (image_id);
CREATE INDEX IF NOT EXISTS ix_tasks_owner ON tasks (owner);
CREATE INDEX IF NOT EXISTS ix_tasks_status ON tasks (status);
CREATE INDEX IF NOT EXISTS ix_tasks_type ON tasks (type);
CREATE INDEX IF NOT EXISTS ix_tasks_updated_at ON tasks (updated_at);

CREATE TABLE IF NOT EXISTS task_info (
    task_id VARCHAR(36) NOT NULL,
    input TEXT,
    result TEXT,
    message TEXT,
    CONSTRAINT task_info_pkey PRIMARY KEY (task_id),
    CONSTRAINT task_info_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id)
);

CREATE TABLE IF NOT EXISTS metadef_namespaces (
    id SERIAL NOT NULL,
    namespace VARCHAR(80) NOT NULL,
    display_name VARCHAR(80),
    description TEXT,
    visibility VARCHAR(32),
    protected BOOLEAN,
    owner VARCHAR(255) NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    CONSTRAINT metadef_namespaces_pkey PRIMARY KEY (id),
    CONSTRAINT uq_metadef_namespaces_namespace UNIQUE (namespace)
);
CREATE INDEX IF NOT EXISTS ix_metadef_namespaces_owner ON metadef_namespaces (owner);

CREATE TABLE IF NOT EXISTS metadef_resource_types (
    id SERIAL NOT NULL,
    name VARCHAR(80) NOT NULL,
    protected BOOLEAN NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    CONSTRAINT metadef_resource_types_pkey PRIMARY KEY (id),
    CONSTRAINT uq_metadef_resource_types_name UNIQUE (name)
);

CREATE TABLE IF NOT EXISTS metadef_namespace_resource_types (
    resource_type_id INTEGER NOT NULL,
    namespace_id INTEGER NOT NULL,
    properties_target VARCHAR(80),
    prefix VARCHAR(80),
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    CONSTRAINT metadef_namespace_resource_types_pkey PRIMARY KEY (resource_type_id, namespace_id),
    CONSTRAINT metadef_namespace_resource_types_namespace_id_fkey
        FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id),
    CONSTRAINT metadef_namespace_resource_types_resource_type_id_fkey
        FOREIGN KEY (resource_type_id) REFERENCES metadef_resource_types (id)
);
CREATE INDEX IF NOT EXISTS ix_metadef_ns_res_types_namespace_id
    ON metadef_namespace_resource_types (namespace_id);

CREATE TABLE IF NOT EXISTS metadef_objects (
    id SERIAL NOT NULL,
    namespace_id INTEGER NOT NULL,
    name VARCHAR(80) NOT NULL,
    description TEXT,
    required TEXT,
    json_schema TEXT NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    CONSTRAINT metadef_objects_pkey PRIMARY KEY (id),
    CONSTRAINT uq_metadef_objects_namespace_id_name UNIQUE (namespace_id, name),
    CONSTRAINT metadef_objects_namespace_id_fkey
        FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id)
);
CREATE INDEX IF NOT EXISTS ix_metadef_objects_name ON metadef_objects (name);

CREATE TABLE IF NOT EXISTS metadef_properties (
    id SERIAL NOT NULL,
    namespace_id INTEGER NOT NULL,
    name VARCHAR(80) NOT NULL,
    json_schema TEXT NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    CONSTRAINT metadef_properties_pkey PRIMARY KEY (id),
    CONSTRAINT uq_metadef_properties_namespace_id_name UNIQUE (namespace_id, name),
    CONSTRAINT metadef_properties_namespace_id_fkey
        FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id)
);
CREATE INDEX IF NOT EXISTS ix_metadef_properties_name ON metadef_properties (name);

CREATE TABLE IF NOT EXISTS metadef_tags (
    id SERIAL NOT NULL,
    namespace_id INTEGER NOT NULL,
    name VARCHAR(80) NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    CONSTRAINT metadef_tags_pkey PRIMARY KEY (id),
    CONSTRAINT uq_metadef_tags_namespace_id_name UNIQUE (namespace_id, name),
    CONSTRAINT metadef_tags_namespace_id_fkey
        FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id)
);
CREATE INDEX IF NOT EXISTS ix_metadef_tags_name ON metadef_tags (name);

CREATE TABLE IF NOT EXISTS node_reference (
    node_reference_id BIGSERIAL NOT NULL,
    node_reference_url VARCHAR(255) NOT NULL,
    CONSTRAINT node_reference_pkey PRIMARY KEY (node_reference_id),
    CONSTRAINT uq_node_reference_node_reference_url UNIQUE (node_reference_url)
);

CREATE TABLE IF NOT EXISTS cached_images (
    id BIGSERIAL NOT NULL,
    image_id VARCHAR(36) NOT NULL,
    last_accessed TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    size BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    checksum VARCHAR(32),
    node_reference_id BIGINT NOT NULL,
    CONSTRAINT cached_images_pkey PRIMARY KEY (id),
    CONSTRAINT ix_cached_images_image_id_node_reference_id UNIQUE (image_id, node_reference_id),
    CONSTRAINT cached_images_node_reference_id_fkey
        FOREIGN KEY (node_reference_id) REFERENCES node_reference (node_reference_id)
);

CREATE TABLE IF NOT EXISTS alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num)
    SELECT '2024_1_contract01' WHERE NOT EXISTS (SELECT 1 FROM alembic_version);
