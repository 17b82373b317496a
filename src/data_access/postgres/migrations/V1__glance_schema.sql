-- Glance's image tables as its alembic migrations leave them on PostgreSQL (liberty base up to
-- 2024_1: visibility enum from Ocata, os_hidden/os_hash_* from Rocky; is_public dropped).
-- One addition: a partial unique index so two live member rows for one pair cannot exist
-- (Glance's UNIQUE(image_id, member, deleted_at) lets NULL deleted_at rows repeat).

CREATE TYPE image_visibility AS ENUM ('private', 'public', 'shared', 'community');

CREATE TABLE images (
    id VARCHAR(36) NOT NULL,
    name VARCHAR(255),
    size BIGINT,
    status VARCHAR(30) NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    deleted_at TIMESTAMP WITHOUT TIME ZONE,
    deleted BOOLEAN NOT NULL,
    disk_format VARCHAR(20),
    container_format VARCHAR(20),
    checksum VARCHAR(32),
    owner VARCHAR(255),
    min_disk INTEGER NOT NULL,
    min_ram INTEGER NOT NULL,
    protected BOOLEAN DEFAULT false NOT NULL,
    virtual_size BIGINT,
    visibility image_visibility DEFAULT 'shared' NOT NULL,
    os_hidden BOOLEAN DEFAULT false NOT NULL,
    os_hash_algo VARCHAR(64),
    os_hash_value VARCHAR(128),
    CONSTRAINT images_pkey PRIMARY KEY (id)
);
CREATE INDEX checksum_image_idx ON images (checksum);
CREATE INDEX ix_images_deleted ON images (deleted);
CREATE INDEX owner_image_idx ON images (owner);
CREATE INDEX visibility_image_idx ON images (visibility);
CREATE INDEX created_at_image_idx ON images (created_at);
CREATE INDEX updated_at_image_idx ON images (updated_at);
CREATE INDEX os_hidden_image_idx ON images (os_hidden);
CREATE INDEX os_hash_value_image_idx ON images (os_hash_value);

CREATE TABLE image_properties (
    id SERIAL NOT NULL,
    image_id VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    value TEXT,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    deleted_at TIMESTAMP WITHOUT TIME ZONE,
    deleted BOOLEAN NOT NULL,
    CONSTRAINT image_properties_pkey PRIMARY KEY (id),
    CONSTRAINT image_properties_image_id_fkey FOREIGN KEY (image_id) REFERENCES images (id),
    CONSTRAINT ix_image_properties_image_id_name UNIQUE (image_id, name)
);
CREATE INDEX ix_image_properties_deleted ON image_properties (deleted);
CREATE INDEX ix_image_properties_image_id ON image_properties (image_id);

CREATE TABLE image_tags (
    id SERIAL NOT NULL,
    image_id VARCHAR(36) NOT NULL,
    value VARCHAR(255) NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    deleted_at TIMESTAMP WITHOUT TIME ZONE,
    deleted BOOLEAN NOT NULL,
    CONSTRAINT image_tags_pkey PRIMARY KEY (id),
    CONSTRAINT image_tags_image_id_fkey FOREIGN KEY (image_id) REFERENCES images (id)
);
CREATE INDEX ix_image_tags_image_id ON image_tags (image_id);
CREATE INDEX ix_image_tags_image_id_tag_value ON image_tags (image_id, value);

CREATE TABLE image_members (
    id SERIAL NOT NULL,
    image_id VARCHAR(36) NOT NULL,
    member VARCHAR(255) NOT NULL,
    can_share BOOLEAN NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    deleted_at TIMESTAMP WITHOUT TIME ZONE,
    deleted BOOLEAN NOT NULL,
    status VARCHAR(20) DEFAULT 'pending' NOT NULL,
    CONSTRAINT image_members_pkey PRIMARY KEY (id),
    CONSTRAINT image_members_image_id_fkey FOREIGN KEY (image_id) REFERENCES images (id),
    CONSTRAINT image_members_image_id_member_deleted_at_key UNIQUE (image_id, member, deleted_at)
);
CREATE INDEX ix_image_members_deleted ON image_members (deleted);
CREATE INDEX ix_image_members_image_id ON image_members (image_id);
CREATE INDEX ix_image_members_image_id_member ON image_members (image_id, member);
CREATE UNIQUE INDEX ix_image_members_live_image_id_member ON image_members (image_id, member)
    WHERE NOT deleted;

CREATE TABLE image_locations (
    id SERIAL NOT NULL,
    image_id VARCHAR(36) NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    deleted_at TIMESTAMP WITHOUT TIME ZONE,
    deleted BOOLEAN NOT NULL,
    meta_data TEXT,
    status VARCHAR(30) DEFAULT 'active' NOT NULL,
    CONSTRAINT image_locations_pkey PRIMARY KEY (id),
    CONSTRAINT image_locations_image_id_fkey FOREIGN KEY (image_id) REFERENCES images (id)
);
CREATE INDEX ix_image_locations_deleted ON image_locations (deleted);
CREATE INDEX ix_image_locations_image_id ON image_locations (image_id);
