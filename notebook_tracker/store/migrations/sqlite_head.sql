-- revision: 0014_deferred_latest_metrics
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
)
;
CREATE TABLE experiment_tags (
	experiment_id INTEGER NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT, 
	PRIMARY KEY (experiment_id, "key"), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE
)
;
CREATE TABLE experiments (
	experiment_id INTEGER NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	artifact_location TEXT NOT NULL, 
	lifecycle_stage VARCHAR(32) NOT NULL, 
	creation_time BIGINT, 
	last_update_time BIGINT, 
	PRIMARY KEY (experiment_id), 
	UNIQUE (name)
)
;
CREATE TABLE "latest_metrics" (
	run_uuid VARCHAR(32) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	step BIGINT NOT NULL, 
	timestamp BIGINT NOT NULL, 
	value FLOAT NOT NULL, 
	is_nan BOOLEAN NOT NULL, settled BOOLEAN DEFAULT 1 NOT NULL, settled_value FLOAT, 
	PRIMARY KEY (run_uuid, "key"), 
	FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid) ON DELETE CASCADE
) WITHOUT ROWID
;
CREATE TABLE latest_pending (
	run_uuid VARCHAR(32) NOT NULL, 
	since BIGINT NOT NULL, 
	PRIMARY KEY (run_uuid), 
	FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid) ON DELETE CASCADE
)
;
CREATE TABLE logged_model_metrics (
	id INTEGER NOT NULL, 
	model_id VARCHAR(64) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value FLOAT, 
	is_nan BOOLEAN NOT NULL, 
	timestamp BIGINT NOT NULL, 
	step BIGINT NOT NULL, 
	run_id VARCHAR(32), 
	dataset_name VARCHAR(500), 
	dataset_digest VARCHAR(64), 
	PRIMARY KEY (id), 
	FOREIGN KEY(model_id) REFERENCES logged_models (model_id) ON DELETE CASCADE
)
;
CREATE TABLE logged_model_params (
	model_id VARCHAR(64) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (model_id, "key"), 
	FOREIGN KEY(model_id) REFERENCES logged_models (model_id) ON DELETE CASCADE
)
;
CREATE TABLE logged_model_tags (
	model_id VARCHAR(64) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT, 
	PRIMARY KEY (model_id, "key"), 
	FOREIGN KEY(model_id) REFERENCES logged_models (model_id) ON DELETE CASCADE
)
;
CREATE TABLE logged_models (
	model_id VARCHAR(64) NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	artifact_uri TEXT NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	status_message TEXT, 
	model_type VARCHAR(500), 
	source_run_id VARCHAR(32), 
	creation_timestamp_ms BIGINT NOT NULL, 
	last_updated_timestamp_ms BIGINT NOT NULL, 
	lifecycle_stage VARCHAR(32) NOT NULL, 
	PRIMARY KEY (model_id), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE
)
;
CREATE TABLE metric_chunks (
	chunk_id INTEGER NOT NULL, 
	run_uuid VARCHAR(32) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	count INTEGER NOT NULL, 
	min_step BIGINT NOT NULL, 
	max_step BIGINT NOT NULL, 
	steps BLOB NOT NULL, 
	timestamps BLOB NOT NULL, 
	"values" BLOB NOT NULL, staged_keys TEXT, key_index BLOB, 
	PRIMARY KEY (chunk_id), 
	FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid) ON DELETE CASCADE
)
;
CREATE TABLE model_version_tags (
	name VARCHAR(256) NOT NULL, 
	version INTEGER NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT, 
	PRIMARY KEY (name, version, "key"), 
	FOREIGN KEY(name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
)
;
CREATE TABLE model_versions (
	name VARCHAR(256) NOT NULL, 
	version INTEGER NOT NULL, 
	creation_time BIGINT NOT NULL, 
	last_updated_time BIGINT NOT NULL, 
	description TEXT, 
	user_id VARCHAR(256), 
	current_stage VARCHAR(20) NOT NULL, 
	source TEXT NOT NULL, 
	run_id VARCHAR(32), 
	run_link TEXT, 
	model_id VARCHAR(64), 
	status VARCHAR(32) NOT NULL, 
	status_message TEXT, 
	PRIMARY KEY (name, version), 
	FOREIGN KEY(name) REFERENCES registered_models (name) ON DELETE CASCADE
)
;
CREATE TABLE "params" (
	run_uuid VARCHAR(32) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (run_uuid, "key"), 
	FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid) ON DELETE CASCADE
) WITHOUT ROWID
;
CREATE TABLE registered_model_aliases (
	name VARCHAR(256) NOT NULL, 
	alias VARCHAR(256) NOT NULL, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (name, alias), 
	FOREIGN KEY(name) REFERENCES registered_models (name) ON DELETE CASCADE
)
;
CREATE TABLE registered_model_tags (
	name VARCHAR(256) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT, 
	PRIMARY KEY (name, "key"), 
	FOREIGN KEY(name) REFERENCES registered_models (name) ON DELETE CASCADE
)
;
CREATE TABLE registered_models (
	name VARCHAR(256) NOT NULL, 
	creation_time BIGINT NOT NULL, 
	last_updated_time BIGINT NOT NULL, 
	description TEXT, 
	user_id VARCHAR(256), 
	next_version INTEGER NOT NULL, 
	PRIMARY KEY (name)
)
;
CREATE TABLE run_dataset_inputs (
	run_uuid VARCHAR(32) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	source_type VARCHAR(64) NOT NULL, 
	source TEXT NOT NULL, 
	schema TEXT, 
	profile TEXT, 
	tags TEXT, 
	PRIMARY KEY (run_uuid, name, digest), 
	FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid) ON DELETE CASCADE
)
;
CREATE TABLE run_model_links (
	run_uuid VARCHAR(32) NOT NULL, 
	model_id VARCHAR(64) NOT NULL, 
	direction VARCHAR(8) NOT NULL, 
	step BIGINT NOT NULL, 
	PRIMARY KEY (run_uuid, model_id, direction), 
	FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid) ON DELETE CASCADE
)
;
CREATE TABLE runs (
	run_uuid VARCHAR(32) NOT NULL, 
	name VARCHAR(250), 
	experiment_id INTEGER NOT NULL, 
	user_id VARCHAR(256), 
	status VARCHAR(20) NOT NULL, 
	start_time BIGINT, 
	end_time BIGINT, 
	deleted_time BIGINT, 
	lifecycle_stage VARCHAR(20) NOT NULL, 
	artifact_uri TEXT, 
	parent_run_id VARCHAR(32), owner_host VARCHAR(256), owner_pid INTEGER, owner_started BIGINT, heartbeat_time BIGINT, packed_values TEXT, 
	PRIMARY KEY (run_uuid), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE
)
;
CREATE TABLE stale_run_values (
	id INTEGER NOT NULL, 
	run_uuid VARCHAR(32) NOT NULL, 
	PRIMARY KEY (id)
)
;
CREATE TABLE "tags" (
	run_uuid VARCHAR(32) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT, 
	PRIMARY KEY (run_uuid, "key"), 
	FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid) ON DELETE CASCADE
) WITHOUT ROWID
;
CREATE INDEX ix_latest_metrics_settled_value ON latest_metrics ("key", value) WHERE settled = 1
;
CREATE INDEX ix_latest_metrics_unsettled ON latest_metrics ("key") WHERE settled = 0
;
CREATE INDEX ix_logged_model_metrics_model ON logged_model_metrics (model_id, "key")
;
CREATE INDEX ix_logged_models_experiment ON logged_models (experiment_id, creation_timestamp_ms)
;
CREATE INDEX ix_metric_chunks_run_key ON metric_chunks (run_uuid, "key", chunk_id)
;
CREATE INDEX ix_model_versions_run ON model_versions (run_id)
;
CREATE INDEX ix_params_key_value ON params ("key", run_uuid)
;
CREATE INDEX ix_runs_experiment_start ON runs (experiment_id, start_time)
;
CREATE INDEX ix_runs_start_time ON runs (start_time)
;
CREATE INDEX ix_runs_status ON runs (status)
;
CREATE INDEX ix_runs_unpacked ON runs (run_uuid) WHERE packed_values IS NULL
;
CREATE INDEX ix_stale_run_values_run ON stale_run_values (run_uuid)
;
CREATE INDEX ix_tags_key ON tags ("key", run_uuid)
;
CREATE TRIGGER nt_unpack_latest_metrics_delete AFTER DELETE ON latest_metrics BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = OLD.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_latest_metrics_insert AFTER INSERT ON latest_metrics BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = NEW.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_latest_metrics_moved AFTER UPDATE OF run_uuid ON latest_metrics WHEN OLD.run_uuid IS NOT NEW.run_uuid BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = OLD.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_latest_metrics_update AFTER UPDATE OF step, timestamp, value, is_nan ON latest_metrics BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = NEW.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_params_delete AFTER DELETE ON params BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = OLD.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_params_insert AFTER INSERT ON params BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = NEW.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_params_moved AFTER UPDATE ON params WHEN OLD.run_uuid IS NOT NEW.run_uuid BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = OLD.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_params_update AFTER UPDATE ON params BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = NEW.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_tags_delete AFTER DELETE ON tags BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = OLD.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_tags_insert AFTER INSERT ON tags BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = NEW.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_tags_moved AFTER UPDATE ON tags WHEN OLD.run_uuid IS NOT NEW.run_uuid BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = OLD.run_uuid AND packed_values IS NOT NULL; END
;
CREATE TRIGGER nt_unpack_tags_update AFTER UPDATE ON tags BEGIN UPDATE runs SET packed_values = NULL WHERE run_uuid = NEW.run_uuid AND packed_values IS NOT NULL; END
