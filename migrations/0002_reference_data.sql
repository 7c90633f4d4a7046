-- Reference data with fixed UUIDs (FLIP PermissionRef / RoleRef values; hubdeck's own for mandate roles).

INSERT INTO permission (id, permission_name, permission_description) VALUES
    ('6d1da2d7-e510-488c-9085-8608cd817256', 'CAN_ACCESS_ADMIN_PANEL', 'CAN_ACCESS_ADMIN_PANEL'),
    ('e2703e64-0186-4bc1-ac40-ba4ef63255ec', 'CAN_APPROVE_PROJECTS', 'CAN_APPROVE_PROJECTS'),
    ('1140ab45-fefb-4a3b-b350-90dd84f9be4b', 'CAN_CREATE_PROJECTS', 'CAN_CREATE_PROJECTS'),
    ('fa2f251f-9d4d-4ba7-8dd1-becd9230dac0', 'CAN_DELETE_ANY_PROJECT', 'CAN_DELETE_ANY_PROJECT'),
    ('4c9769ed-a939-4c73-b320-139f574368c3', 'CAN_MANAGE_DEPLOYMENTS', 'CAN_MANAGE_DEPLOYMENTS'),
    ('fc2f242e-848f-4983-ab14-fd3c5604535d', 'CAN_MANAGE_PROJECTS', 'CAN_MANAGE_PROJECTS'),
    ('5a6c4185-6c90-4b26-bc87-f9436e2042b8', 'CAN_MANAGE_SITE_BANNER', 'CAN_MANAGE_SITE_BANNER'),
    ('f6dbd04e-d1ef-4cb7-84c2-c29fb35cf83b', 'CAN_MANAGE_USERS', 'CAN_MANAGE_USERS'),
    ('a695be07-23c7-448d-a5df-36c3f63ca29d', 'CAN_UNSTAGE_PROJECTS', 'CAN_UNSTAGE_PROJECTS');

INSERT INTO roles (id, name, description) VALUES
    ('64d3145b-034c-4328-b637-8eb54313b7c5', 'Admin', 'Full administrative access to the hub'),
    ('10b64ed0-bc90-4c01-9cc3-933c704905c1', 'Researcher', 'Can create projects'),
    ('cdee79c9-a5e1-4b9e-a315-1ec2f3d29efe', 'Viewer', 'Read-only access to assigned projects');

-- ADMIN: every (non-trust-scoped) permission; RESEARCHER: CAN_CREATE_PROJECTS; VIEWER: none.
INSERT INTO role_permission (role_id, permission_id)
SELECT '64d3145b-034c-4328-b637-8eb54313b7c5', id FROM permission;
INSERT INTO role_permission (role_id, permission_id) VALUES
    ('10b64ed0-bc90-4c01-9cc3-933c704905c1', '1140ab45-fefb-4a3b-b350-90dd84f9be4b');

-- Global mandate role templates.
INSERT INTO mandate_role (id, label, description, mandate_id, feature_instance_id) VALUES
    ('9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e01', 'admin', 'Mandate administrator: manages members and roles', NULL, NULL),
    ('9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e02', 'member', 'Mandate member', NULL, NULL),
    ('9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e03', 'viewer', 'Read-only mandate member', NULL, NULL);

-- Plan catalogue.
INSERT INTO plan (key, name, trial_days, max_members, monthly_price_cents, auto_renew) VALUES
    ('TRIAL_14D', '14-day trial', 14, 25, 0, false),
    ('STARTER', 'Starter', 0, 50, 4900, true),
    ('TEAM', 'Team', 0, 500, 29900, true),
    ('ENTERPRISE', 'Enterprise', 0, 250000, 249900, true);
