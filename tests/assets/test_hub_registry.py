"""The Hugging Face Hub registry backend against a loopback server that speaks the Hub HTTP API
the `huggingface_hub` client calls (repo create, preupload, NDJSON commit, refs, branch, tag,
tree, resolve, validate-yaml): push, list refs, download back, evaluate from the Hub, and finish a
push that failed without retraining. The token never leaves the request headers."""

from __future__ import annotations

import json

import pytest
from dagster import AssetKey, instance_for_test, materialize

from tests.hub_server import HubServer
from tests.leaks import assert_secret_absent
from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.defs.jobs import condition_job, raw_job
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.defs.resources import RegistrySettings

TOKEN = "hf_test_SECRET_token_5150"
CORRECT = str(run_key("synthetic", "correct"))


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with HubServer(tmp_path / "hub", token=TOKEN) as server, server.patch_client():
        yield server


def hub_registry(hub) -> RegistrySettings:
    return RegistrySettings(backend="hub", hub_namespace="test-user", hub_endpoint=hub.endpoint, max_attempts=2, backoff_s=0.01)


def test_students_are_pushed_as_commits_on_a_branch_tagged_per_run_and_evaluated_from_the_hub(
    hub, tiny_home, tiny_experiment, no_teacher, faults
):
    from huggingface_hub import HfApi

    resources = {"home": tiny_home, "experiment": tiny_experiment, "teacher": no_teacher, "registry": hub_registry(hub)}
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources).success
        assert materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=CORRECT, instance=instance, resources=resources).success
        store = tiny_home.store()
        row = store.rows("SELECT * FROM registry")[0]
        assert (row["backend"], row["status"]) == ("hub", "registered")
        commit = row["revision"]
        assert len(commit) == 40 and row["uri"] == f"{hub.endpoint}/test-user/tracekd-tiny-llama-from-config/tree/{commit}"

        api = HfApi(endpoint=hub.endpoint, token=TOKEN)
        repo = "test-user/tracekd-tiny-llama-from-config"
        refs = api.list_repo_refs(repo)
        history = [c.commit_id for c in api.list_repo_commits(repo, revision="synthetic--correct")]
        assert history[1] == commit  # the training commit, then the card update once evaluated
        assert [t.target_commit for t in refs.tags if t.name.startswith("synthetic--correct--seed0--")] == [commit]
        files = {f.path for f in api.list_repo_tree(repo, revision=commit)}
        assert {"model.safetensors", "config.json", "tokenizer.json", "README.md", "tracekd_lineage.json"} <= files
        card = api.model_info(repo, revision=commit).card_data
        assert card.datasets == ["synthetic"] and "condition:correct" in card.tags

        # evaluation read the registered commit from the Hub, not a local folder
        assert store.rows("SELECT DISTINCT model_revision FROM predictions") == [{"model_revision": commit}]
        assert any(m == "GET" and f"/resolve/{commit}/model.safetensors" in p for m, p, _ in hub.requests)
        metrics = json.loads(store.rows("SELECT metrics FROM registry")[0]["metrics"])
        assert 0.0 <= metrics["answer_accuracy"] <= 1.0

        # once evaluated, the card on the student's branch carries the results; the revision stays the training commit
        from huggingface_hub import ModelCard

        branch_head = {b.name: b.target_commit for b in api.list_repo_refs(repo).branches}["synthetic--correct"]
        assert branch_head != commit  # a card-only commit on top of the training commit
        card_path = api.hf_hub_download(repo, "README.md", revision=branch_head, cache_dir=str(tiny_home.root / "cards"))
        card = ModelCard.load(card_path)
        results = {r.metric_type: r.metric_value for r in card.data.eval_results}
        assert results["answer_accuracy"] == pytest.approx(metrics["answer_accuracy"])
        assert store.rows("SELECT DISTINCT model_revision FROM metrics") == [{"model_revision": commit}]

        # a fresh download of the commit loads as a model
        from huggingface_hub import snapshot_download
        from transformers import AutoModelForCausalLM

        folder = snapshot_download(repo, revision=commit, endpoint=hub.endpoint, token=TOKEN, cache_dir=str(tiny_home.root / "check"))
        assert AutoModelForCausalLM.from_pretrained(folder).num_parameters() > 0

        writes = [h for m, p, h in hub.requests if m == "POST" and "/commit/" in p]
        assert writes and all(h.get("authorization") == f"Bearer {TOKEN}" for h in writes)
        assert_secret_absent(TOKEN, instance, tiny_home.root)
    faults.held("secret")


def test_a_failed_push_leaves_the_checkpoint_pending_and_the_next_run_completes_it_without_retraining(
    hub, tiny_home, tiny_experiment, no_teacher, faults
):
    resources = {"home": tiny_home, "experiment": tiny_experiment, "teacher": no_teacher, "registry": hub_registry(hub)}
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources).success
        assert materialize(ALL_ASSETS, selection=[AssetKey("traces")], partition_key=CORRECT, instance=instance, resources=resources).success
        hub.fail_next = [503, 503]  # both tries of the push fail at repo creation
        failed = materialize(ALL_ASSETS, selection=[AssetKey("student")], partition_key=CORRECT, instance=instance,
                             resources=resources, raise_on_error=False)  # fmt: skip
        assert not failed.success
        store = tiny_home.store()
        pending = store.rows("SELECT * FROM registry")
        assert [(r["status"], r["backend"]) for r in pending] == [("pending", "hub")]
        assert "503" in pending[0]["error"] and TOKEN not in pending[0]["error"]
        local = tiny_home.local_registry().folder(pending[0]["model_name"], pending[0]["local_revision"])
        assert (local / "model.safetensors").exists()  # the checkpoint is kept on disk

        done = materialize(ALL_ASSETS, selection=[AssetKey("student")], partition_key=CORRECT, instance=instance, resources=resources)
        assert done.success
        rows = store.rows("SELECT * FROM registry")
        assert [(r["status"], r["local_revision"]) for r in rows] == [("registered", pending[0]["local_revision"])]
        assert len(rows[0]["revision"]) == 40
        logs = [r.user_message for r in instance.all_logs(done.run_id)]
        assert any("completing the push of pending revision" in m for m in logs)
        assert not any("training (full)" in m for m in logs)  # no retraining
        assert_secret_absent(TOKEN, instance, tiny_home.root)
    faults.held("secret")


def test_retrying_a_failed_push_never_retrains_and_completes_every_pending_revision(hub, tiny_home, tiny_experiment, no_teacher):
    resources = {"home": tiny_home, "experiment": tiny_experiment, "teacher": no_teacher, "registry": hub_registry(hub)}
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources).success
        assert materialize(ALL_ASSETS, selection=[AssetKey("traces")], partition_key=CORRECT, instance=instance, resources=resources).success

        def student_run():
            return materialize(ALL_ASSETS, selection=[AssetKey("student")], partition_key=CORRECT, instance=instance,
                               resources=resources, raise_on_error=False)  # fmt: skip

        hub.fail_next = [503, 503]
        assert not student_run().success  # trained once, push failed: pending
        hub.fail_next = [503, 503]
        retry = student_run()  # the push fails again: still pending, and no second training
        assert not retry.success
        retry_logs = [r.user_message for r in instance.all_logs(retry.run_id)]
        assert any("completing the push of pending revision" in m for m in retry_logs)
        assert not any("training (full)" in m for m in retry_logs)
        store = tiny_home.store()
        assert [r["status"] for r in store.rows("SELECT status FROM registry")] == ["pending"]
        done = student_run()
        assert done.success
        assert [r["status"] for r in store.rows("SELECT status FROM registry")] == ["registered"]
        assert not any("training (full)" in r.user_message for r in instance.all_logs(done.run_id))
