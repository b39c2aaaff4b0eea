-- Semblance's own schema for Orleans' ADO.NET providers on PostgreSQL 15+ (membership and grain storage).
-- The providers read their SQL from the table OrleansQuery by key and bind parameters by name (@Name); they read
-- results by column name, so only the query keys, parameter names and result column names are fixed by Orleans.
-- The tables behind them are ours. Every write is one statement (data-modifying CTEs), so it commits or fails whole.
-- Applied by PostgresSchema.EnsureAsync under an advisory lock when OrleansQuery is absent.

CREATE TABLE OrleansQuery
(
    QueryKey varchar(64) PRIMARY KEY,
    QueryText text NOT NULL
);

-- Membership: one version row per cluster (the optimistic-concurrency token of the whole table) and one row per silo.
CREATE TABLE semblance_membership_version
(
    deployment_id varchar(150) PRIMARY KEY,
    version integer NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE semblance_membership
(
    deployment_id varchar(150) NOT NULL REFERENCES semblance_membership_version (deployment_id) ON DELETE CASCADE,
    address varchar(45) NOT NULL,
    port integer NOT NULL,
    generation integer NOT NULL,
    silo_name varchar(150) NOT NULL,
    host_name varchar(150) NOT NULL,
    status integer NOT NULL,
    proxy_port integer,
    suspect_times text,
    start_time timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

-- Advances a cluster's membership version when it is still the one a silo read; no row when another write won.
CREATE FUNCTION semblance_advance_version(deployment varchar, expected integer) RETURNS TABLE (deployment_id varchar)
LANGUAGE sql AS $f$
    UPDATE semblance_membership_version AS v SET version = v.version + 1, changed_at = now()
    WHERE v.deployment_id = deployment AND v.version = expected
    RETURNING v.deployment_id
$f$;

-- Grain state: one row per grain (type, id, service); the version is the state's ETag.
CREATE TABLE semblance_grain_state
(
    service_id varchar(150) NOT NULL,
    grain_type_hash integer NOT NULL,
    grain_type varchar(512) NOT NULL,
    grain_id_hash integer NOT NULL,
    grain_id_n0 bigint NOT NULL,
    grain_id_n1 bigint NOT NULL,
    grain_id_extension varchar(512) NOT NULL DEFAULT '',
    payload bytea,
    version integer NOT NULL,
    modified_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, grain_type_hash, grain_id_hash, grain_id_n0, grain_id_n1, grain_type, grain_id_extension)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
-- Creates the cluster's version row; 1 when created, 0 when it already existed.
('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO semblance_membership_version (deployment_id) VALUES (CAST(@DeploymentId AS varchar))
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1)
SELECT CAST(count(*) AS integer) FROM created
$q$),
-- A silo joins: only when the table version is the one the silo read, which it advances. 1 on success.
('InsertMembershipKey', $q$
WITH advanced AS (SELECT deployment_id FROM semblance_advance_version(CAST(@DeploymentId AS varchar), CAST(@Version AS integer))),
joined AS (
    INSERT INTO semblance_membership (deployment_id, address, port, generation, silo_name, host_name, status, proxy_port, start_time, i_am_alive_time)
    SELECT deployment_id, CAST(@Address AS varchar), CAST(@Port AS integer), CAST(@Generation AS integer), CAST(@SiloName AS varchar),
           CAST(@HostName AS varchar), CAST(@Status AS integer), CAST(@ProxyPort AS integer), CAST(@StartTime AS timestamptz), CAST(@IAmAliveTime AS timestamptz)
    FROM advanced
    ON CONFLICT DO NOTHING
    RETURNING 1)
SELECT CAST(count(*) AS integer) FROM joined
$q$),
-- A silo's status or suspicions change: again only at the version read. 1 on success.
('UpdateMembershipKey', $q$
WITH advanced AS (SELECT deployment_id FROM semblance_advance_version(CAST(@DeploymentId AS varchar), CAST(@Version AS integer))),
changed AS (
    UPDATE semblance_membership AS m
    SET status = CAST(@Status AS integer), suspect_times = CAST(@SuspectTimes AS text), i_am_alive_time = CAST(@IAmAliveTime AS timestamptz)
    FROM advanced
    WHERE m.deployment_id = advanced.deployment_id AND m.address = CAST(@Address AS varchar)
      AND m.port = CAST(@Port AS integer) AND m.generation = CAST(@Generation AS integer)
    RETURNING 1)
SELECT CAST(count(*) AS integer) FROM changed
$q$),
-- The heartbeat: touches only the silo's own row, never the version.
('UpdateIAmAlivetimeKey', $q$
UPDATE semblance_membership SET i_am_alive_time = CAST(@IAmAliveTime AS timestamptz)
WHERE deployment_id = CAST(@DeploymentId AS varchar) AND address = CAST(@Address AS varchar)
  AND port = CAST(@Port AS integer) AND generation = CAST(@Generation AS integer)
$q$),
-- One silo's row with the table version (the version row alone when the silo has none).
('MembershipReadRowKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
       m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
       m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime, v.version AS Version
FROM semblance_membership_version AS v
LEFT JOIN semblance_membership AS m
  ON m.deployment_id = v.deployment_id AND m.address = CAST(@Address AS varchar)
 AND m.port = CAST(@Port AS integer) AND m.generation = CAST(@Generation AS integer)
WHERE v.deployment_id = CAST(@DeploymentId AS varchar)
$q$),
-- Every silo's row with the table version.
('MembershipReadAllKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
       m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
       m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime, v.version AS Version
FROM semblance_membership_version AS v
LEFT JOIN semblance_membership AS m ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = CAST(@DeploymentId AS varchar)
$q$),
-- The gateways clients may use: silos in the given status with a proxy port.
('GatewaysQueryKey', $q$
SELECT address AS Address, proxy_port AS ProxyPort, generation AS Generation
FROM semblance_membership
WHERE deployment_id = CAST(@DeploymentId AS varchar) AND status = CAST(@Status AS integer) AND proxy_port > 0
$q$),
-- Forgets a cluster (its silo rows go with the version row).
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM semblance_membership_version WHERE deployment_id = CAST(@DeploymentId AS varchar)
$q$),
-- Removes dead silos (status 6) not heard from since the given time.
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM semblance_membership
WHERE deployment_id = CAST(@DeploymentId AS varchar) AND i_am_alive_time < CAST(@IAmAliveTime AS timestamptz) AND status = 6
$q$),
-- A grain's state and version (no row: never written).
('ReadFromStorageKey', $q$
SELECT payload AS PayloadBinary, modified_at AS ModifiedOn, version AS Version
FROM semblance_grain_state
WHERE service_id = CAST(@ServiceId AS varchar) AND grain_type_hash = CAST(@GrainTypeHash AS integer)
  AND grain_id_hash = CAST(@GrainIdHash AS integer) AND grain_id_n0 = CAST(@GrainIdN0 AS bigint) AND grain_id_n1 = CAST(@GrainIdN1 AS bigint)
  AND grain_type = CAST(@GrainTypeString AS varchar) AND grain_id_extension = COALESCE(CAST(@GrainIdExtensionString AS varchar), '')
$q$),
-- Writes a grain's state: the first write inserts version 1; later writes need the version read and advance it.
-- The version returned is unchanged when the write lost (Orleans then reports inconsistent state).
('WriteToStorageKey', $q$
WITH updated AS (
    UPDATE semblance_grain_state
    SET payload = CAST(@PayloadBinary AS bytea), version = version + 1, modified_at = now()
    WHERE CAST(@GrainStateVersion AS integer) IS NOT NULL AND version = CAST(@GrainStateVersion AS integer)
      AND service_id = CAST(@ServiceId AS varchar) AND grain_type_hash = CAST(@GrainTypeHash AS integer)
      AND grain_id_hash = CAST(@GrainIdHash AS integer) AND grain_id_n0 = CAST(@GrainIdN0 AS bigint) AND grain_id_n1 = CAST(@GrainIdN1 AS bigint)
      AND grain_type = CAST(@GrainTypeString AS varchar) AND grain_id_extension = COALESCE(CAST(@GrainIdExtensionString AS varchar), '')
    RETURNING version),
inserted AS (
    INSERT INTO semblance_grain_state (service_id, grain_type_hash, grain_type, grain_id_hash, grain_id_n0, grain_id_n1, grain_id_extension, payload, version)
    SELECT CAST(@ServiceId AS varchar), CAST(@GrainTypeHash AS integer), CAST(@GrainTypeString AS varchar), CAST(@GrainIdHash AS integer),
           CAST(@GrainIdN0 AS bigint), CAST(@GrainIdN1 AS bigint), COALESCE(CAST(@GrainIdExtensionString AS varchar), ''), CAST(@PayloadBinary AS bytea), 1
    WHERE CAST(@GrainStateVersion AS integer) IS NULL
    ON CONFLICT DO NOTHING
    RETURNING version)
SELECT COALESCE((SELECT version FROM updated), (SELECT version FROM inserted), CAST(@GrainStateVersion AS integer)) AS NewGrainStateVersion
$q$),
-- Clears a grain's state at the version read, keeping the row so the version keeps advancing.
('ClearStorageKey', $q$
UPDATE semblance_grain_state SET payload = NULL, version = version + 1, modified_at = now()
WHERE version = CAST(@GrainStateVersion AS integer)
  AND service_id = CAST(@ServiceId AS varchar) AND grain_type_hash = CAST(@GrainTypeHash AS integer)
  AND grain_id_hash = CAST(@GrainIdHash AS integer) AND grain_id_n0 = CAST(@GrainIdN0 AS bigint) AND grain_id_n1 = CAST(@GrainIdN1 AS bigint)
  AND grain_type = CAST(@GrainTypeString AS varchar) AND grain_id_extension = COALESCE(CAST(@GrainIdExtensionString AS varchar), '')
RETURNING version AS NewGrainStateVersion
$q$),
-- Deletes a grain's row at the version read (used when the storage is configured to delete on clear).
('DeleteStorageKey', $q$
DELETE FROM semblance_grain_state
WHERE version = CAST(@GrainStateVersion AS integer)
  AND service_id = CAST(@ServiceId AS varchar) AND grain_type_hash = CAST(@GrainTypeHash AS integer)
  AND grain_id_hash = CAST(@GrainIdHash AS integer) AND grain_id_n0 = CAST(@GrainIdN0 AS bigint) AND grain_id_n1 = CAST(@GrainIdN1 AS bigint)
  AND grain_type = CAST(@GrainTypeString AS varchar) AND grain_id_extension = COALESCE(CAST(@GrainIdExtensionString AS varchar), '')
RETURNING version + 1 AS NewGrainStateVersion
$q$);
