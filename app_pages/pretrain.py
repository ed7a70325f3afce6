"""Pre-train: configure a CSP run, launch it in the background, watch it live, compare finished runs."""

from pathlib import Path

import streamlit as st

from core.data.sources import VIEW_SOURCES
from core.image.registry import list_image_encoders
from core.location import ENCODINGS, NETWORKS, ConfigError, LocationEncoderConfig
from core.location.config import EMBEDDINGS
from core.location.loading import RUN_STAGES
from core.objectives import PRETRAINING_OBJECTIVES
from core.workflows.sweep import DEFAULT_ENCODINGS, DEFAULT_RATIOS, DEFAULT_SEEDS, SweepPlan
from core.workflows import jobs
from core.train.config import RunConfig
from core.train.device import available_devices
from core.train.precision import PRECISIONS
from core.workflows.jobs import Job
from core.train.negatives import NEGATIVE_SAMPLERS
from core.train.records import compare_runs, list_runs, list_sweeps, runs_root
from geovis import access_gate, app_state, encoder_files, training_charts
from geovis.markdown_text import escape_markdown
from geovis.run_form import param_inputs

app_state.keep_form_values()  # the Pre-train form's settings survive visits to other pages

STAGES = {"pretrain": "CSP pre-training", "finetune": "fine-tune P(y|x)", "image_classifier": "image classifier P(y|I)"}
WATCHED = "pretrain_watched_job"

manager = st.cache_resource(jobs.job_manager)()
user = access_gate.current_user()
owner = user.name
defaults = RunConfig()
records = list_runs()

st.title("Pre-train")
st.markdown(
    "Train a location encoder on the active dataset's cached image features: **CSP pre-training** "
    "(no labels), **fine-tuning** it into a location prior P(y|x) with a fraction of the labels, or an "
    "**image classifier** P(y|I). Runs are queued and trained one at a time in the background; "
    "switch pages freely, the run goes on."
)

# ---- the run config ------------------------------------------------------------------------------
stage = st.radio("Stage", list(STAGES), format_func=STAGES.get, horizontal=True, key="pt_stage")
registered = app_state.user_dataset()
dataset = f"{registered.fmt}:{registered.path}" if registered else "default"
data_col, features_col, view_col = st.columns(3)
options_text = ", ".join(f"{name}={value}" for name, value in registered.options) if registered else ""
data_col.text_input("Dataset (the active one; change it on Overview)", value=f"{dataset} ({options_text})" if options_text else dataset, disabled=True)
encoders = {spec.name: spec for spec in list_image_encoders()}
image_encoder = features_col.selectbox("Image features", list(encoders), index=list(encoders).index(defaults.data.image_encoder), key="pt_image_encoder")
features_col.caption(encoders[image_encoder].description)
view = view_col.selectbox("Chip view", VIEW_SOURCES, key="pt_view", disabled=dataset != "default")

with st.container(border=True):
    st.subheader("Location encoder")
    enc_col, net_col, dim_col = st.columns(3)
    encoding = enc_col.selectbox("Encoding", list(ENCODINGS), index=list(ENCODINGS).index(defaults.location["encoding"]), key="pt_encoding")
    enc_col.caption(ENCODINGS[encoding].description)
    default_network = defaults.location["network"] if encoding == defaults.location["encoding"] else ENCODINGS[encoding].default_network
    network = net_col.selectbox("Network", list(NETWORKS), index=list(NETWORKS).index(default_network), key=f"pt_network_{encoding}")
    net_col.caption(NETWORKS[network].description)
    output_dim = int(dim_col.number_input("Output dim", value=defaults.location["output_dim"], step=1, key="pt_output_dim"))
    embedding = dim_col.selectbox(
        "Embedding layer", EMBEDDINGS, index=EMBEDDINGS.index(defaults.location_config().embedding), key="pt_embedding",
        help="what probes and the embedding map read: the network output, or the encoding and the output side by side (concat)",
    )
    encoding_params = param_inputs(ENCODINGS[encoding].params, f"pt_enc_{encoding}")
    network_params = param_inputs(NETWORKS[network].params, f"pt_net_{network}")
location = {"encoding": encoding, "encoding_params": encoding_params, "network": network, "network_params": network_params, "embedding": embedding}
if network != "identity":
    location["output_dim"] = output_dim

data = {"dataset": dataset, "dataset_options": dict(registered.options) if registered else {}, "image_encoder": image_encoder, "view": view}
values: dict = {"stage": stage, "data": data, "location": location}
if stage == "pretrain":
    with st.container(border=True):
        st.subheader("Objective")
        p = defaults.pretrain
        objective = st.selectbox("Objective", list(PRETRAINING_OBJECTIVES), key="pt_objective")
        st.caption(PRETRAINING_OBJECTIVES[objective])
        pretrain: dict = {"objective": objective, "projection": st.radio("Image projection g(f)", ["linear", "mlp"], horizontal=True, key="pt_projection")}
        if objective == "mcssl":
            weights = st.columns(3)
            for column, part in zip(weights, ("in_batch", "negative_location", "simcse")):
                pretrain[part] = column.number_input(f"weight {part}", value=getattr(p, part), format="%g", key=f"pt_w_{part}")
                pretrain[f"tau_{part}"] = column.number_input(f"τ {part} (divides cos)", value=getattr(p, f"tau_{part}"), format="%g", key=f"pt_tau_{part}")
            sampler_col, radius_col, count_col = st.columns(3)
            pretrain["negative_sampler"] = sampler_col.selectbox("Negative sampler", list(NEGATIVE_SAMPLERS), format_func=lambda k: f"{k}: {NEGATIVE_SAMPLERS[k]}", key="pt_sampler")
            if pretrain["negative_sampler"] == "near":
                pretrain["near_radius_km"] = radius_col.number_input("Near radius (km)", value=p.near_radius_km, format="%g", key="pt_radius")
            pretrain["num_negatives"] = int(count_col.number_input("Negatives per positive", value=p.num_negatives, step=1, key="pt_num_negatives"))
        elif objective == "nce":
            pretrain["tau_in_batch"] = st.number_input("τ (divides cos)", value=p.tau_in_batch, format="%g", key="pt_tau_in_batch")
    values["pretrain"] = pretrain
elif stage == "finetune":
    with st.container(border=True):
        st.subheader("Fine-tuning")
        f = defaults.finetune
        ratio_col, loss_col, init_col = st.columns(3)
        try:
            compatible = jobs.pretrained_runs_for(records, LocationEncoderConfig.from_dict(location).to_dict())
        except ConfigError:
            compatible = []  # the error is shown when Start is pressed
        values["finetune"] = {
            "label_ratio": ratio_col.number_input("Label ratio", value=f.label_ratio, format="%g", key="pt_label_ratio"),
            "loss": loss_col.selectbox("Loss", ["cross_entropy", "presence_only"], key="pt_loss"),
            "init_from": init_col.selectbox(
                "Initialise from", ["", *(str(r.run_dir) for r in compatible)], key="pt_init_from",
                format_func=lambda d: d.rsplit("/", 1)[-1] or "scratch (no pre-training)",
                help="Finished pre-training runs with exactly this location encoder",
            ),
            "freeze_encoder": st.checkbox("Freeze the pre-trained encoder (train the head only)", key="pt_freeze"),
        }

with st.container(border=True):
    st.subheader("Training")
    row = st.columns(4)
    values["epochs"] = int(row[0].number_input("Epochs", value=defaults.epochs, step=1, key="pt_epochs"))
    values["batch_size"] = int(row[1].number_input("Batch size", value=defaults.batch_size, step=1, key="pt_batch_size"))
    values["seed"] = int(row[2].number_input("Seed", value=defaults.seed, step=1, key="pt_seed"))
    values["patience"] = int(row[3].number_input("Patience (epochs)", value=defaults.patience, step=1, key="pt_patience"))
    o = defaults.optim
    row = st.columns(4)
    values["optim"] = {
        "lr": row[0].number_input("Learning rate", value=o.lr, format="%g", step=1e-4, key="pt_lr"),
        "optimizer": row[1].selectbox("Optimiser", ["adamw", "adam"], key="pt_optimizer"),
        "weight_decay": row[2].number_input("Weight decay", value=o.weight_decay, format="%g", key="pt_weight_decay"),
        "schedule": row[3].selectbox("Schedule", ["cosine", "constant"], key="pt_schedule"),
        "warmup_epochs": int(row[0].number_input("Warm-up epochs", value=o.warmup_epochs, step=1, key="pt_warmup")),
        "grad_clip": row[1].number_input("Gradient clip (0 = off)", value=o.grad_clip, format="%g", key="pt_grad_clip"),
    }
    values["train"] = {
        "device": row[2].selectbox(
            "Device", available_devices(), key="pt_device", help="auto: the first GPU when this server has one, else the CPU"
        ),
        "precision": row[3].selectbox(
            "Precision", list(PRECISIONS), key="pt_precision",
            help="bf16/fp16 autocast. On a CPU without bf16 units (like this project's CI machines) bf16 trains ~7x slower.",
        ),
    }

with st.expander("Label-budget sweep: the CSP paper's main table, with the settings above as the base"):
    st.caption(
        "For each encoding and seed: CSP pre-training, then at each label ratio a location classifier from "
        "scratch and from the CSP weights, an image classifier and their fusions, scored on the test split. "
        "Stop takes effect between the sweep's jobs when it uses one worker process."
    )
    plan_defaults = SweepPlan()
    row = st.columns(3)
    sweep = {
        "encodings": row[0].multiselect("Encodings", list(ENCODINGS), default=list(DEFAULT_ENCODINGS), key="pt_sweep_encodings"),
        "ratios": row[1].multiselect("Label ratios", sorted({0.01, 0.02, *DEFAULT_RATIOS, 0.5}), default=list(DEFAULT_RATIOS), format_func="{:.0%}".format, key="pt_sweep_ratios"),
        "n_seeds": int(row[2].number_input("Seeds", value=len(DEFAULT_SEEDS), step=1, key="pt_sweep_seeds")),
        "pretrain_epochs": int(row[0].number_input("Pre-training epochs", value=plan_defaults.pretrain_epochs, step=1, key="pt_sweep_epochs")),
        "finetune_steps": int(row[1].number_input("Fine-tuning steps", value=plan_defaults.finetune_steps, step=1, key="pt_sweep_steps")),
        "workers": int(row[2].number_input("Worker processes", value=1, step=1, key="pt_sweep_workers")),
    }
    start_sweep = st.button("Start sweep", key="sweep_start")

# ---- start, then decide whether the live panel polls -------------------------------------------------
if st.button("Start", type="primary", key="run_start") or start_sweep:
    try:
        config = RunConfig.from_dict(values)
        plan = jobs.sweep_plan(**sweep) if start_sweep else None
    except ConfigError as error:
        st.error(f"Not started, a setting is invalid: {escape_markdown(error)}")
    else:
        try:
            job = manager.submit(config, owner, plan, made_by=user.made_by, limit=access_gate.access_settings().max_queued_runs)
        except jobs.JobLimitError as error:
            st.error(f"Not started: {error}.")
        else:
            st.session_state[WATCHED] = job.id

watched = manager.get(st.session_state.get(WATCHED, ""), owner)


def show_sweep(directory: Path) -> None:
    """A finished sweep's Markdown table and plot."""
    st.markdown((directory / "sweep.md").read_text())
    st.image(str(directory / "sweep.png"))


def live_panel(job: Job | None, polling: bool) -> None:
    """Status, progress, loss and validation charts of the watched job; reruns the page once when it ends."""
    if job is None:
        st.info("No run started in this session yet: configure one above and press Start.")
        return
    if polling and not job.active:
        st.rerun()
    st.subheader(f"Run {job.run_dir.name if job.run_dir else job.id}: {job.status.replace('_', ' ')}")
    if job.status == "queued":
        st.caption(f"Waiting in the queue, position {job.position}: runs train one at a time.")
    st.progress(job.progress, text=job.message)
    if job.error:
        st.error(f"The run failed: {escape_markdown(job.error)}")
    if job.active:
        st.button("Stop", on_click=manager.stop, args=(job.id, user.name, user.admin), disabled=job.stop_requested,
                  key=f"run_stop_{job.id}")
    charts = st.columns(2)
    if steps := job.steps():
        charts[0].plotly_chart(training_charts.loss_parts_figure(steps), key=f"run_steps_{job.id}")
    if epochs := job.epoch_metrics():
        charts[1].plotly_chart(training_charts.validation_figure(epochs), key=f"run_epochs_{job.id}")
    if job.metrics:
        st.dataframe(training_charts.result_table(job.metrics))
    if job.plan is not None and job.status == "completed":
        show_sweep(job.run_dir)


polling = watched is not None and watched.active
st.fragment(run_every=1.0 if polling else None)(live_panel)(watched, polling)

# ---- the run list and the comparison ------------------------------------------------------------------
st.header("Runs")
if session_jobs := [job for job in manager.jobs(owner) if job.active]:
    st.dataframe(training_charts.jobs_table(session_jobs), hide_index=True)
if user.shared and user.admin and (others := [job for job in manager.active_jobs() if job.owner != owner]):
    st.subheader("Everyone's queued and running runs (admin)")
    for job in others:
        row = st.columns([4, 1])
        row[0].markdown(f"**{escape_markdown(job.owner)}** · {job.kind} · {job.status} · {escape_markdown(job.message)}")
        row[1].button("Stop", on_click=manager.stop, args=(job.id, user.name, True), disabled=job.stop_requested,
                      key=f"admin_stop_{job.id}")
if not records:
    st.caption(f"No finished runs yet under `{runs_root()}`.")
else:
    st.dataframe(compare_runs(records))
    for record in records[:20]:
        made_by = f" · by {record.made_by}" if record.made_by else ""
        with st.expander(f"{record.name} · {record.stage} · {record.status}{made_by}"):
            if record.made_by:
                st.caption(f"Started by **{escape_markdown(record.made_by)}**.")
            st.markdown(record.card())
            if record.stage in RUN_STAGES and record.has_checkpoint():
                encoder_files.encoder_download_button(st, record.run_dir, f"run_card_download_{record.name}")

    st.subheader("Compare finished runs")
    names = st.multiselect("Runs", [r.name for r in records], key="pt_compare", placeholder="pick two or more runs")
    chosen = [r for r in records if r.name in names]
    if chosen:
        st.dataframe(training_charts.side_by_side(compare_runs(chosen)))
        histories = {r.name: r.history() for r in chosen}
        if metrics := training_charts.shared_metrics(histories):
            metric = st.selectbox("Validation metric", metrics, key="pt_compare_metric")
            st.plotly_chart(training_charts.compare_curves_figure(histories, metric), key="pt_compare_chart")

if sweeps := list_sweeps():
    st.subheader("Label-budget sweeps")
    for directory in sweeps[:10]:
        with st.expander(directory.name):
            show_sweep(directory)
