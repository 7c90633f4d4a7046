-- hubdeck: the complete data model (SPEC §3).
-- Names from the FLIP / PowerOn seeds are kept. Every table has created_at; mutable ones updated_at.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- ---------------------------------------------------------------------------
-- Global permissions, roles and grants (seed 003)
-- ---------------------------------------------------------------------------
CREATE TABLE permission (
    id                     uuid PRIMARY KEY,
    permission_name        text NOT NULL UNIQUE,
    permission_description text NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roles (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE role_permission (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    role_id       uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id uuid NOT NULL REFERENCES permission (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT role_permission_pair_key UNIQUE (role_id, permission_id)
);

-- user_id is the directory `sub`; deliberately no foreign key (the directory is the authority).
CREATE TABLE user_role (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL,
    role_id    uuid NOT NULL REFERENCES roles (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_role_grant_key UNIQUE (user_id, role_id)
);
CREATE INDEX user_role_role_idx ON user_role (role_id, user_id);

CREATE TABLE user_profile (
    user_id      uuid PRIMARY KEY,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    organisation text NOT NULL CHECK (char_length(organisation) BETWEEN 1 AND 255),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_profile_name_trgm ON user_profile USING gin (name gin_trgm_ops);
CREATE INDEX user_profile_org_trgm ON user_profile USING gin (organisation gin_trgm_ops);
CREATE INDEX user_profile_name_idx ON user_profile (lower(name), user_id);

CREATE TABLE users_audit (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    action              text NOT NULL,
    user_id             uuid NOT NULL,
    modified_by_user_id uuid,
    via                 text NOT NULL DEFAULT 'tui' CHECK (via IN ('tui', 'cli', 'system')),
    os_user             text,
    details             jsonb NOT NULL DEFAULT '{}'::jsonb,
    "timestamp"         timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_audit_time_idx ON users_audit ("timestamp" DESC, id);
CREATE INDEX users_audit_subject_idx ON users_audit (user_id, "timestamp" DESC);
CREATE INDEX users_audit_actor_idx ON users_audit (modified_by_user_id, "timestamp" DESC);

-- ---------------------------------------------------------------------------
-- Trusts and the FL kit slot pool (seed 002)
-- ---------------------------------------------------------------------------
CREATE TABLE trust (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name           text NOT NULL CHECK (btrim(name) <> ''),
    code           text NOT NULL CHECK (code ~ '^[A-Z0-9_-]{2,16}$'),
    region         text,
    api_key_hash   text NOT NULL CHECK (api_key_hash ~ '^[0-9a-f]{64}$'),
    last_heartbeat timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX trust_name_lower_key ON trust (lower(name));
CREATE UNIQUE INDEX trust_code_key ON trust (code);
CREATE INDEX trust_name_trgm ON trust USING gin (name gin_trgm_ops);
CREATE INDEX trust_code_trgm ON trust USING gin (code gin_trgm_ops);
CREATE INDEX trust_region_idx ON trust (region, lower(name), id);
CREATE INDEX trust_created_idx ON trust (created_at, id);

CREATE TABLE fl_kit_slot (
    slot_name            text PRIMARY KEY,
    slot_number          integer NOT NULL,
    assigned_to_trust_id uuid REFERENCES trust (id) ON DELETE SET NULL,
    assigned_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT fl_kit_slot_one_per_trust UNIQUE (assigned_to_trust_id)
);
CREATE INDEX fl_kit_slot_free_idx ON fl_kit_slot (slot_number, slot_name) WHERE assigned_to_trust_id IS NULL;
CREATE INDEX fl_kit_slot_number_idx ON fl_kit_slot (slot_number, slot_name);

-- No foreign key to trust: audit rows outlive the trust and keep its name.
CREATE TABLE trusts_audit (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trust_id            uuid NOT NULL,
    trust_name          text NOT NULL,
    action              text NOT NULL CHECK (action IN ('REGISTERED', 'DELETED', 'KEY_ROTATED', 'ADMIN_ADDED', 'ADMIN_REMOVED')),
    modified_by_user_id uuid,
    subject_user_id     uuid,
    via                 text NOT NULL DEFAULT 'tui' CHECK (via IN ('tui', 'cli', 'system')),
    os_user             text,
    details             jsonb NOT NULL DEFAULT '{}'::jsonb,
    audit_date          timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trusts_audit_time_idx ON trusts_audit (audit_date DESC, id);
CREATE INDEX trusts_audit_trust_idx ON trusts_audit (trust_id, audit_date DESC);
CREATE INDEX trusts_audit_actor_idx ON trusts_audit (modified_by_user_id, audit_date DESC);

-- ---------------------------------------------------------------------------
-- Mandates, plans, memberships (seed 004)
-- ---------------------------------------------------------------------------
CREATE TABLE plan (
    key                 text PRIMARY KEY,
    name                text NOT NULL,
    trial_days          integer NOT NULL DEFAULT 0 CHECK (trial_days >= 0),
    max_members         integer NOT NULL CHECK (max_members > 0),
    monthly_price_cents integer NOT NULL DEFAULT 0 CHECK (monthly_price_cents >= 0),
    auto_renew          boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mandate (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (btrim(name) <> ''),
    label      text,
    enabled    boolean NOT NULL DEFAULT true,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mandate_name_trgm ON mandate USING gin (name gin_trgm_ops);
CREATE INDEX mandate_label_trgm ON mandate USING gin (label gin_trgm_ops);
CREATE INDEX mandate_name_idx ON mandate (name, id) WHERE deleted_at IS NULL;
CREATE INDEX mandate_label_idx ON mandate (label, id) WHERE deleted_at IS NULL;
CREATE INDEX mandate_created_idx ON mandate (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX mandate_enabled_name_idx ON mandate (enabled, name, id) WHERE deleted_at IS NULL;
CREATE INDEX mandate_deleted_idx ON mandate (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE mandate_billing_settings (
    mandate_id    uuid PRIMARY KEY REFERENCES mandate (id) ON DELETE CASCADE,
    billing_email text,
    currency      text NOT NULL DEFAULT 'EUR',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mandate_subscription (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    mandate_id           uuid NOT NULL REFERENCES mandate (id) ON DELETE CASCADE,
    plan_key             text NOT NULL REFERENCES plan (key),
    status               text NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'canceled')),
    recurring            boolean NOT NULL DEFAULT false,
    started_at           timestamptz NOT NULL DEFAULT now(),
    current_period_start timestamptz NOT NULL DEFAULT now(),
    current_period_end   timestamptz,
    trial_ends_at        timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
-- At most one live subscription per mandate.
CREATE UNIQUE INDEX mandate_subscription_live_key ON mandate_subscription (mandate_id)
    WHERE status IN ('trialing', 'active', 'past_due');
CREATE INDEX mandate_subscription_plan_idx ON mandate_subscription (plan_key, mandate_id);

-- mandate_id NULL = global template; feature_instance_id set = feature-instance role (excluded from member lists).
CREATE TABLE mandate_role (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    label               text NOT NULL CHECK (btrim(label) <> ''),
    description         text,
    mandate_id          uuid REFERENCES mandate (id) ON DELETE CASCADE,
    feature_instance_id uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX mandate_role_global_label_key ON mandate_role (label)
    WHERE mandate_id IS NULL AND feature_instance_id IS NULL;
CREATE INDEX mandate_role_mandate_idx ON mandate_role (mandate_id);

CREATE TABLE user_mandate (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL,
    mandate_id uuid NOT NULL REFERENCES mandate (id) ON DELETE CASCADE,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_mandate_membership_key UNIQUE (user_id, mandate_id)
);
CREATE INDEX user_mandate_mandate_idx ON user_mandate (mandate_id, user_id);

CREATE TABLE user_mandate_role (
    user_mandate_id uuid NOT NULL REFERENCES user_mandate (id) ON DELETE CASCADE,
    mandate_role_id uuid NOT NULL REFERENCES mandate_role (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_mandate_id, mandate_role_id)
);
CREATE INDEX user_mandate_role_role_idx ON user_mandate_role (mandate_role_id, user_mandate_id);

-- Outbox: one row per notification to deliver, texts in English and German.
CREATE TABLE notification (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL,
    mandate_id   uuid,
    kind         text NOT NULL,
    title_en     text NOT NULL,
    message_en   text NOT NULL,
    title_de     text NOT NULL,
    message_de   text NOT NULL,
    delivered_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_undelivered_idx ON notification (created_at) WHERE delivered_at IS NULL;
CREATE INDEX notification_user_idx ON notification (user_id, created_at DESC);

-- No foreign key to mandate: audit rows outlive a hard delete and keep the name.
CREATE TABLE mandate_audit (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    actor_user_id  uuid,
    via            text NOT NULL DEFAULT 'tui' CHECK (via IN ('tui', 'cli', 'system')),
    os_user        text,
    mandate_id     uuid,
    mandate_name   text,
    action         text NOT NULL,
    target_user_id uuid,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mandate_audit_time_idx ON mandate_audit (created_at DESC, id);
CREATE INDEX mandate_audit_mandate_idx ON mandate_audit (mandate_id, created_at DESC);
CREATE INDEX mandate_audit_actor_idx ON mandate_audit (actor_user_id, created_at DESC);
CREATE INDEX mandate_audit_target_idx ON mandate_audit (target_user_id, created_at DESC);

-- ---------------------------------------------------------------------------
-- Registration saga journal (SPEC §5.1)
-- ---------------------------------------------------------------------------
CREATE TABLE registration (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email             text NOT NULL,
    name              text NOT NULL,
    organisation      text NOT NULL,
    requested_roles   uuid[] NOT NULL DEFAULT '{}',
    suppress_invite   boolean NOT NULL DEFAULT false,
    state             text NOT NULL CHECK (state IN ('pending', 'identity_created', 'roles_pending',
                                                      'complete', 'rolled_back', 'needs_cleanup', 'resolved')),
    sub               uuid,
    identity_created  boolean NOT NULL DEFAULT false,
    last_error        text,
    rollback_error    text,
    note              text,
    actor_user_id     uuid,
    via               text NOT NULL DEFAULT 'tui' CHECK (via IN ('tui', 'cli', 'system')),
    os_user           text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registration_stuck_idx ON registration (state, created_at)
    WHERE state IN ('pending', 'identity_created', 'roles_pending', 'needs_cleanup');
CREATE INDEX registration_email_idx ON registration (lower(email), created_at DESC);
CREATE INDEX registration_created_idx ON registration (created_at DESC, id);

-- ---------------------------------------------------------------------------
-- Directory read cache (listing and search only; never the authority)
-- ---------------------------------------------------------------------------
CREATE TABLE directory_user (
    sub        uuid PRIMARY KEY,
    username   text NOT NULL,
    email      text NOT NULL,
    enabled    boolean NOT NULL,
    status     text NOT NULL,
    gone_at    timestamptz,
    synced_at  timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX directory_user_email_trgm ON directory_user USING gin (email gin_trgm_ops);
CREATE INDEX directory_user_username_trgm ON directory_user USING gin (username gin_trgm_ops);
CREATE INDEX directory_user_email_idx ON directory_user (lower(email), sub) WHERE gone_at IS NULL;
CREATE INDEX directory_user_status_idx ON directory_user (status, enabled) WHERE gone_at IS NULL;
CREATE INDEX directory_user_sub_text_trgm ON directory_user USING gin ((sub::text) gin_trgm_ops);

-- ---------------------------------------------------------------------------
-- LocalDirectory: the embedded identity provider for demo and development
-- ---------------------------------------------------------------------------
CREATE TABLE local_identity (
    sub            uuid PRIMARY KEY,
    username       text NOT NULL UNIQUE,
    email          text NOT NULL,
    email_verified boolean NOT NULL DEFAULT false,
    enabled        boolean NOT NULL DEFAULT true,
    status         text NOT NULL CHECK (status IN ('FORCE_CHANGE_PASSWORD', 'CONFIRMED', 'RESET_REQUIRED')),
    password_hash  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX local_identity_email_key ON local_identity (lower(email));
CREATE INDEX local_identity_page_idx ON local_identity (created_at, sub);

CREATE TABLE local_invitation (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sub        uuid NOT NULL,
    email      text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('INVITE', 'RESEND')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX local_invitation_sub_idx ON local_invitation (sub, created_at);

-- ---------------------------------------------------------------------------
-- Append-only audit tables
-- ---------------------------------------------------------------------------
CREATE FUNCTION hubdeck_refuse_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER users_audit_append_only BEFORE UPDATE OR DELETE ON users_audit
    FOR EACH ROW EXECUTE FUNCTION hubdeck_refuse_audit_change();
CREATE TRIGGER trusts_audit_append_only BEFORE UPDATE OR DELETE ON trusts_audit
    FOR EACH ROW EXECUTE FUNCTION hubdeck_refuse_audit_change();
CREATE TRIGGER mandate_audit_append_only BEFORE UPDATE OR DELETE ON mandate_audit
    FOR EACH ROW EXECUTE FUNCTION hubdeck_refuse_audit_change();
