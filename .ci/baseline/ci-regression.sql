PRAGMA user_version=2;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_info (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO schema_info VALUES('schema_version','2');
INSERT INTO schema_info VALUES('created_at','2026-11-25T23:30:26Z');
CREATE TABLE sweeps (
  sweep_id          TEXT PRIMARY KEY,
  name              TEXT,
  spec_path         TEXT,
  spec_text         TEXT,
  started_at        TEXT,
  finished_at       TEXT,
  status            TEXT NOT NULL,
  controller_commit TEXT,
  controller_host   TEXT,
  n_runs            INTEGER NOT NULL DEFAULT 0,
  agents            TEXT
);
INSERT INTO sweeps VALUES('sw-20261125-233026-6c0516','ci-regression','scenarios/ci-regression.yaml',replace('# CI regression gate (scripts/ci-regression) on a small synthetic llama model, which CI writes into the model cache with:\n#   tlmbench make-model --arch llama --layers 2 --embd 256 --ff 512 --heads 4 --kv-heads 1 \\n#     --head-dim 64 --vocab 512 --type q8_0 --seed 0 -o "${TLMBENCH_MODELS:-$HOME/.cache/tlmbench/models}/synthetic-llama-tiny.gguf"\nname: ci-regression\ndescription: synthetic llama (2 layers, embd 256, q8_0), 32-token prompt, 16 generated tokens, one thread\nworkload: generate\ncounter: instructions  # deterministic: perf_event_open, or callgrind where the device has no PMU\ntimeout_s: 300\nmeasurement:\n  warmup: 1\n  min_reps: 5\n  min_duration_s: 0\nmatrix:\n  model: synthetic-llama-tiny.gguf\n  backend: cpu\n  threads: [1]\n  n_prompt: 32\n  n_gen: 16\n','\n',char(10)),'2026-11-25T23:30:26Z','2026-11-25T23:30:45Z','done','72cd17eec28e','vm',1,'local');
CREATE TABLE devices (
  name        TEXT PRIMARY KEY,
  hostname    TEXT,
  labels_json TEXT NOT NULL,
  facts_json  TEXT NOT NULL,
  first_seen  TEXT NOT NULL,
  last_seen   TEXT NOT NULL
);
CREATE TABLE runs (
  run_id                  TEXT PRIMARY KEY,
  sweep_id                TEXT NOT NULL REFERENCES sweeps(sweep_id),
  scenario                TEXT,
  source                  TEXT,
  spec_json               TEXT NOT NULL,
  spec_hash               TEXT,
  workload                TEXT,
  device                  TEXT,
  backend                 TEXT,
  backend_device          TEXT,
  model                   TEXT,
  model_sha256            TEXT,
  model_description       TEXT,
  threads                 INTEGER,
  n_prompt                INTEGER,
  n_gen                   INTEGER,
  n_ctx                   INTEGER,
  activations             TEXT,
  attempt                 INTEGER,
  status                  TEXT NOT NULL,
  error                   TEXT,
  exit_code               INTEGER,
  signal                  INTEGER,
  verdict                 TEXT,
  verdict_reason          TEXT,
  reps                    INTEGER,
  queue_ms                REAL,
  worker_wall_ms          REAL,
  load_avg_before         REAL,
  cpu_freq_mhz_before     REAL,
  cpu_freq_mhz_min_during REAL,
  temperature_c_before    REAL,
  temperature_c_after     REAL,
  primary_cv              REAL,
  started_at              TEXT,
  finished_at             TEXT,
  git_commit              TEXT,
  commit_time             TEXT,
  written_at              TEXT NOT NULL
);
INSERT INTO runs VALUES('4977d5977fd42d2c0de2','sw-20261125-233026-6c0516','ci-regression','scenarios/ci-regression.yaml:13','{"accuracy_tasks":[],"activations":"f32","attempt":1,"backend":"cpu","capabilities":[],"counter":"instructions","labels":{},"measurement":{"max_reps":100,"min_duration_s":0,"min_reps":5,"noisy_cv":0.1,"seed":"42","warmup":1},"model":"synthetic-llama-tiny.gguf","n_ctx":0,"n_gen":16,"n_prompt":32,"run_id":"4977d5977fd42d2c0de2","scenario":"ci-regression","source":"scenarios/ci-regression.yaml:13","spec_hash":"cdeb1c879fd1c4d74bebfe75451ea41d5ee9ff1f4b3d8948902fead8ab1fe2f6","sweep_id":"sw-20261125-233026-6c0516","threads":1,"timeout_s":300,"workload":"generate"}','cdeb1c879fd1c4d74bebfe75451ea41d5ee9ff1f4b3d8948902fead8ab1fe2f6','generate','ci','cpu','cpu (avx2 kernels, f32 activations, 1 threads)','synthetic-llama-tiny.gguf','eb391054b1b63209564c6c5a3e06a0298e9a0e1967822106eace643f1d90dd32','llama 1M Q8_0',1,32,16,48,'f32',1,'ok',NULL,0,0,'valid','cv 0.2% of decode_tps over 5 reps within 10.0%; CPU frequency held (min 2596 MHz vs 2596 MHz before)',5,0.040971000000000000473,19504.282617000000755,1.5300000000000000266,2596.1340000000000145,2596.1340000000000145,NULL,NULL,0.0021798575760808322314,'2026-11-25T23:30:26Z','2026-11-25T23:30:45Z','72cd17eec28e','2026-11-25T23:12:38+00:00','2026-11-25T23:30:45Z');
CREATE TABLE attempts (
  run_id      TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  sweep_id    TEXT,
  agent       TEXT,
  status      TEXT NOT NULL,
  error       TEXT,
  started_at  TEXT,
  finished_at TEXT,
  PRIMARY KEY (run_id, attempt)
);
CREATE TABLE samples (
  run_id     TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  repetition INTEGER NOT NULL,
  metric     TEXT NOT NULL,
  value      REAL,
  unit       TEXT NOT NULL,
  PRIMARY KEY (run_id, repetition, metric)
) WITHOUT ROWID;
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'backend_init_ms',4.1406060000000000087,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'compile_ms',29.684076000000001016,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'context_tokens',48.0,'tokens');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'embd_bytes',139264.0,'bytes');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'embd_resident_bytes',139264.0,'bytes');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'embd_resident_frac',1.0,'fraction');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'faults_major',0.0,'count');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'faults_minor',2209.0,'count');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'kv_bytes',49152.0,'bytes');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'load_ms',84.866373999999993316,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'model_n_params',1246464.0,'count');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'rss_peak_anon_bytes',57536512.0,'bytes');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'rss_peak_file_bytes',21774336.0,'bytes');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'weights_bytes',1328128.0,'bytes');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',0,'weights_resident_bytes',1328128.0,'bytes');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',1,'decode_tps',14.55049945494238095,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',1,'instructions',43326607.0,'count');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',1,'itl_ms_p50',68.839729500000004236,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',1,'itl_ms_p90',69.030708500000002914,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',1,'itl_ms_p99',69.116136100000005624,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',1,'prefill_tps',16.300848102104200876,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',1,'ttft_ms',1963.0880429999999705,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',2,'decode_tps',14.478842223054540383,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',2,'instructions',43326607.0,'count');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',2,'itl_ms_p50',68.750797500000004449,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',2,'itl_ms_p90',69.182053499999994982,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',2,'itl_ms_p99',73.154453399999994191,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',2,'prefill_tps',16.426588895857623384,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',2,'ttft_ms',1948.0611710000000584,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',3,'decode_tps',14.557216021671587569,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',3,'instructions',43326607.0,'count');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',3,'itl_ms_p50',68.61549150000000452,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',3,'itl_ms_p90',69.058440000000004487,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',3,'itl_ms_p99',69.211544299999999906,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',3,'prefill_tps',16.389551985122615462,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',3,'ttft_ms',1952.4633759999999256,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',4,'decode_tps',14.538965831438458664,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',4,'instructions',43326607.0,'count');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',4,'itl_ms_p50',68.781392500000009702,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',4,'itl_ms_p90',69.124192499999992378,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',4,'itl_ms_p99',69.212233550000007652,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',4,'prefill_tps',16.420180750660897217,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',4,'ttft_ms',1948.8214219999999841,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',5,'decode_tps',14.54571307566940419,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',5,'instructions',43326607.0,'count');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',5,'itl_ms_p50',68.685915999999991752,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',5,'itl_ms_p90',69.050182500000005349,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',5,'itl_ms_p99',69.120199850000005881,'ms');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',5,'prefill_tps',16.428515475174627624,'tokens/s');
INSERT INTO samples VALUES('4977d5977fd42d2c0de2',5,'ttft_ms',1947.8327209999999922,'ms');
CREATE TABLE conformance (
  run_id       TEXT NOT NULL,
  started_at   TEXT NOT NULL,
  build_commit TEXT,
  host         TEXT,
  backend      TEXT NOT NULL,
  device       TEXT,
  suite        TEXT NOT NULL,
  case_name    TEXT NOT NULL,
  op           TEXT,
  dtype        TEXT,
  shape        TEXT,
  max_abs_err  REAL,
  nmse         REAL,
  kld          REAL,
  top1         REAL,
  ppl_ratio    REAL,
  status       TEXT NOT NULL,
  message      TEXT,
  seconds      REAL,
  metrics_json TEXT,
  PRIMARY KEY (run_id, case_name)
);
CREATE INDEX runs_by_sweep ON runs(sweep_id);
CREATE INDEX runs_by_config ON runs(device, backend, model);
CREATE INDEX attempts_by_sweep ON attempts(sweep_id);
CREATE INDEX samples_by_metric ON samples(metric);
CREATE INDEX conformance_by_backend ON conformance(suite, backend, case_name);
COMMIT;
