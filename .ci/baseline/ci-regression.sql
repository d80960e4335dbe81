PRAGMA user_version=1;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_info (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO schema_info VALUES('schema_version','1');
INSERT INTO schema_info VALUES('created_at','2026-11-25T16:50:23Z');
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
INSERT INTO sweeps VALUES('sw-20261125-165023-8e18ef','ci-regression','scenarios/ci-regression.yaml',replace('# CI regression gate (scripts/ci-regression) on a small synthetic llama model, which CI writes into the model cache with:\n#   tlmbench make-model --arch llama --layers 2 --embd 256 --ff 512 --heads 4 --kv-heads 1 \\n#     --head-dim 64 --vocab 512 --type q8_0 --seed 0 -o "${TLMBENCH_MODELS:-$HOME/.cache/tlmbench/models}/synthetic-llama-tiny.gguf"\nname: ci-regression\ndescription: synthetic llama (2 layers, embd 256, q8_0), 32-token prompt, 16 generated tokens, one thread\nworkload: generate\ncounter: instructions  # deterministic: perf_event_open, or callgrind where the device has no PMU\ntimeout_s: 300\nmeasurement:\n  warmup: 1\n  min_reps: 5\n  min_duration_s: 0\nmatrix:\n  model: synthetic-llama-tiny.gguf\n  backend: cpu\n  threads: [1]\n  n_prompt: 32\n  n_gen: 16\n','\n',char(10)),'2026-11-25T16:50:23Z','2026-11-25T16:50:43Z','done','0eb5245a8152-dirty','vm',1,'local');
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
INSERT INTO runs VALUES('cf2ac433939ac06bbf16','sw-20261125-165023-8e18ef','ci-regression','scenarios/ci-regression.yaml:13','{"accuracy_tasks":[],"activations":"f32","attempt":1,"backend":"cpu","capabilities":[],"counter":"instructions","labels":{},"measurement":{"max_reps":100,"min_duration_s":0,"min_reps":5,"noisy_cv":0.1,"seed":"42","warmup":1},"model":"synthetic-llama-tiny.gguf","n_ctx":0,"n_gen":16,"n_prompt":32,"run_id":"cf2ac433939ac06bbf16","scenario":"ci-regression","source":"scenarios/ci-regression.yaml:13","spec_hash":"cdeb1c879fd1c4d74bebfe75451ea41d5ee9ff1f4b3d8948902fead8ab1fe2f6","sweep_id":"sw-20261125-165023-8e18ef","threads":1,"timeout_s":300,"workload":"generate"}','cdeb1c879fd1c4d74bebfe75451ea41d5ee9ff1f4b3d8948902fead8ab1fe2f6','generate','ci','cpu','cpu (avx2 kernels, f32 activations, 1 threads)','synthetic-llama-tiny.gguf','eb391054b1b63209564c6c5a3e06a0298e9a0e1967822106eace643f1d90dd32','llama 1M Q8_0',1,32,16,48,'f32',1,'ok',NULL,0,0,'valid','cv 1.7% of decode_tps over 5 reps within 10.0%; CPU frequency held (min 2596 MHz vs 2596 MHz before)',5,0.1211499999999999938,19881.763351000001421,0.9000000000000000222,2596.1340000000000145,2596.1340000000000145,NULL,NULL,0.017108429232231978089,'2026-11-25T16:50:23Z','2026-11-25T16:50:43Z','0eb5245a8152-dirty','2026-11-25T16:46:04+00:00','2026-11-25T16:50:43Z');
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
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'backend_init_ms',2.2189890000000001002,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'compile_ms',31.47631099999999904,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'context_tokens',48.0,'tokens');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'embd_bytes',139264.0,'bytes');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'embd_resident_bytes',139264.0,'bytes');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'embd_resident_frac',1.0,'fraction');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'faults_major',0.0,'count');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'faults_minor',1636.0,'count');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'kv_bytes',49152.0,'bytes');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'load_ms',90.86973999999999307,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'model_n_params',1246464.0,'count');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'rss_peak_anon_bytes',51441664.0,'bytes');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'rss_peak_file_bytes',20877312.0,'bytes');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'weights_bytes',1328128.0,'bytes');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',0,'weights_resident_bytes',1328128.0,'bytes');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',1,'decode_tps',14.350765318286963889,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',1,'instructions',60624373.0,'count');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',1,'itl_ms_p50',69.940395999999992681,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',1,'itl_ms_p90',70.16148499999999899,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',1,'itl_ms_p99',70.657481650000008243,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',1,'prefill_tps',16.441321232794930296,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',1,'ttft_ms',1946.3155999999999039,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',2,'decode_tps',13.87667137113001381,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',2,'instructions',60624373.0,'count');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',2,'itl_ms_p50',69.984268999999997618,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',2,'itl_ms_p90',78.175631000000009862,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',2,'itl_ms_p99',88.713021499999996418,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',2,'prefill_tps',16.801130877398904317,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',2,'ttft_ms',1904.6336960000000999,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',3,'decode_tps',14.539742660422190212,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',3,'instructions',60624373.0,'count');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',3,'itl_ms_p50',68.744628500000004578,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',3,'itl_ms_p90',69.14036649999999895,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',3,'itl_ms_p99',69.87155374999998969,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',3,'prefill_tps',16.52366775632183149,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',3,'ttft_ms',1936.6160390000000007,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',4,'decode_tps',14.26684589796053082,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',4,'instructions',60624373.0,'count');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',4,'itl_ms_p50',70.17773350000000221,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',4,'itl_ms_p90',70.688603499999999256,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',4,'itl_ms_p99',71.575533650000011222,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',4,'prefill_tps',16.708042323442754195,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',4,'ttft_ms',1915.2453279999999722,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',5,'decode_tps',14.33825511892981197,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',5,'instructions',60624373.0,'count');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',5,'itl_ms_p50',69.565633499999989909,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',5,'itl_ms_p90',70.633816999999993412,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',5,'itl_ms_p99',71.792937050000006139,'ms');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',5,'prefill_tps',16.69179746310039647,'tokens/s');
INSERT INTO samples VALUES('cf2ac433939ac06bbf16',5,'ttft_ms',1917.1092909999999846,'ms');
CREATE INDEX runs_by_sweep ON runs(sweep_id);
CREATE INDEX runs_by_config ON runs(device, backend, model);
CREATE INDEX attempts_by_sweep ON attempts(sweep_id);
CREATE INDEX samples_by_metric ON samples(metric);
COMMIT;
