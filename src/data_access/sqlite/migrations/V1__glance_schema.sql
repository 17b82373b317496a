-- Glance's image tables (glance/db/sqlalchemy/models.py), with Glance's table, column and index
-- names. Timestamps are naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (sorts as time); booleans 0/1.

CREATE TABLE images (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255),
    size INTEGER,
    virtual_size INTEGER,
    status VARCHAR(30) NOT NULL,
    visibility VARCHAR(9) NOT NULL DEFAULT 'shared'
        CHECK (visibility IN ('private', 'public', 'shared', 'community')),
    disk_format VARCHAR(20),
    container_format VARCHAR(20),
    checksum VARCHAR(32),
    os_hash_algo VARCHAR(64),
    os_hash_value VARCHAR(128),
    owner VARCHAR(255),
    min_disk INTEGER NOT NULL DEFAULT 0,
    min_ram INTEGER NOT NULL DEFAULT 0,
    protected BOOLEAN NOT NULL DEFAULT 0,
    os_hidden BOOLEAN NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    updated_at DATETIME,
    deleted_at DATETIME,
    deleted BOOLEAN NOT NULL DEFAULT 0
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
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    image_id VARCHAR(36) NOT NULL REFERENCES images (id),
    name VARCHAR(255) NOT NULL,
    value TEXT,
    created_at DATETIME NOT NULL,
    updated_at DATETIME,
    deleted_at DATETIME,
    deleted BOOLEAN NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX ix_image_properties_image_id_name ON image_properties (image_id, name);
CREATE INDEX ix_image_properties_image_id ON image_properties (image_id);
CREATE INDEX ix_image_properties_deleted ON image_properties (deleted);

CREATE TABLE image_tags (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    image_id VARCHAR(36) NOT NULL REFERENCES images (id),
    value VARCHAR(255) NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME,
    deleted_at DATETIME,
    deleted BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX ix_image_tags_image_id ON image_tags (image_id);
CREATE INDEX ix_image_tags_image_id_tag_value ON image_tags (image_id, value);

CREATE TABLE image_members (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    image_id VARCHAR(36) NOT NULL REFERENCES images (id),
    member VARCHAR(255) NOT NULL,
    can_share BOOLEAN NOT NULL DEFAULT 0,
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    created_at DATETIME NOT NULL,
    updated_at DATETIME,
    deleted_at DATETIME,
    deleted BOOLEAN NOT NULL DEFAULT 0,
    CONSTRAINT image_members_image_id_member_deleted_at_key UNIQUE (image_id, member, deleted_at)
);
CREATE INDEX ix_image_members_deleted ON image_members (deleted);
CREATE INDEX ix_image_members_image_id ON image_members (image_id);
CREATE INDEX ix_image_members_image_id_member ON image_members (image_id, member);
-- Not in Glance (which relies on the application): at most one live row per pair, so of
-- concurrent creates exactly one succeeds.
CREATE UNIQUE INDEX ix_image_members_live_pair ON image_members (image_id, member) WHERE deleted = 0;

CREATE TABLE image_locations (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    image_id VARCHAR(36) NOT NULL REFERENCES images (id),
    value TEXT NOT NULL,
    meta_data TEXT NOT NULL DEFAULT '{}',
    status VARCHAR(30) NOT NULL DEFAULT 'active',
    created_at DATETIME NOT NULL,
    updated_at DATETIME,
    deleted_at DATETIME,
    deleted BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX ix_image_locations_image_id ON image_locations (image_id);
CREATE INDEX ix_image_locations_deleted ON image_locations (deleted);
