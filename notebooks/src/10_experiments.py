"""Source of notebooks/10_experiments.ipynb (build: python notebooks/src/build.py)."""

from _nb import Notebook

NOTEBOOK = nb = Notebook("10_experiments")

nb.md(
    r"""
    # 10 · Experiments: batches of runs with papermill

    A paper's table is not one run but a grid of them: three sparsity presets, two datasets, three splits,
    several seeds. Running such a grid by hand invites mistakes — a typo in a parameter that silently falls
    back to its default, a crashed run that nobody notices, results scattered over folders. This notebook runs
    the kit's answer, **`stclr batch`**: a small YAML *recipe* names a course notebook and a grid of parameters;
    every point runs as its own papermill execution with its own folder, is validated before anything starts,
    skipped when already done, and summarised in one table. We run the sparsity ablation of Sec. 4.2.3
    (Figs. 5–7) in miniature on notebook 06, read its summary and plot it the way the paper does.

    **What you will learn**
    - to read a recipe (`experiments/*.yaml`): notebook, base parameters, grid, runs, names, smoke block;
    - why every parameter is checked against the notebook's `parameters` cell before a batch starts;
    - to run, resume and summarise a batch (`summary.csv`, `summary.md`, one folder per point), from Python or
      from the command line;
    - to turn a batch's table into the paper's figures — and why one seed per setting cannot rank the settings;
    - how the paper's own experiments are laid out as recipes (a pretraining stage, then evaluation recipes).

    | compute | with the defaults | full scale |
    |---|---|---|
    | time | {{course.10_min}} min in `make course` on 2 cores (3 points, each a kernel start, 30 [optimiser steps](../docs/glossary.md#optimiser-step-and-epoch) and a retrieval over 512 videos; seed 0; `docs/benchmarks.md`); less with `quick=True` | `experiments/pretrain_paper.yaml`: 8 pretrainings of 100–499 epochs, days per GPU; the evaluation recipes hours to a day per point |
    | disk | ≈ 5 MB (three small runs and their executed notebooks) | ≈ 0.5 GB per pretraining point |
    """
)

nb.code(
    """
    %matplotlib inline
    import time
    from pathlib import Path

    import yaml
    from IPython.display import Markdown, display

    from stclr.batch import run_batch
    from stclr.recipes import RecipeError, load_recipe, notebook_parameters, recipe_from_dict, validate_points
    from stclr.benchdata import COURSE_STEPS, load_rows
    from stclr.data.synthetic import ensure_synthetic_dataset
    from stclr.runinfo import write_json
    from stclr.viz import results as vr

    print("ready")
    """
)

nb.md("**Parameters.** papermill and `stclr batch` replace these literals; everything derived comes next.")

nb.params(
    """
    data_root: str = "../data/synthetic"  # synthetic dataset folder, passed to every point (generated when missing)
    out_dir: str = "../runs/notebooks/10_experiments"  # the batch folder, figures and metrics.json go here
    device: str = "auto"  # passed to every point: auto, cpu, cuda or mps
    show_progress: bool = True  # the batch's progress bar (the points themselves never show bars)
    interactive: bool = True  # the point explorer at the end
    seed: int = 0  # passed to every point (the recipe's seed axis is narrowed to it)
    quick: bool = False  # the course's quick mode: the recipe's smoke block (one point)
    recipe_file: str = "../experiments/demo_sparsity.yaml"  # the recipe to run
    jobs: int = 1  # points run at once, each in its own kernel (on 2 cores, 1 is fastest)
    """
)

nb.code(
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recipe_path = Path(recipe_file)
    root = Path(data_root).resolve()  # the kernels of the points run elsewhere: absolute paths only
    metrics = {}
    print(f"recipe: {recipe_path.name} | smoke: {quick} | results in {out}")
    """
)

nb.code(
    """
    ensure_synthetic_dataset(root, show_progress=show_progress)  # generated here when missing
    print("dataset ready")
    """
)

nb.md(
    """
    ## 1. A recipe

    The recipe says which notebook to run, with which base parameters, over which grid. The runner adds
    `out_dir` itself (each point gets its own folder, where the notebook writes `metrics.json`) and passes
    `interactive=False` and `show_progress=False` (nobody clicks a widget in a batch). The `smoke` block is the
    same recipe at toy scale: `stclr batch RECIPE --smoke` checks the whole pipeline in minutes before a long
    run is spent on it.
    """
)

nb.code(
    """
    print(recipe_path.read_text())
    """,
    check_output=True,
)

nb.md(
    """
    ## 2. Validation before anything runs

    papermill itself only *warns* about a parameter the notebook does not declare, then runs with the default —
    for hours. `stclr batch` parses the notebook's `parameters` cell and checks every name and every value's
    type first. Here is a recipe with two mistakes, checked against notebook 06:
    """
)

nb.code(
    """
    bad = {"notebook": "../notebooks/06_pretraining.ipynb", "grid": {"skip": ["low", "high"]},
           "parameters": {"time_budget_s": "ten"}}
    try:
        broken = recipe_from_dict(bad, recipe_dir=Path("."), out=out / "never")
        validate_points(broken.points, notebook_parameters(broken.notebook)[0], "06_pretraining.ipynb")
    except RecipeError as e:
        print("\\n".join(line for line in str(e).splitlines() if line.startswith("  -")))
    """,
    check_output=True,
)

nb.md(
    """
    Now the real recipe. We load it with three changes, all through the same mechanism as the command line's
    `--out` and `--set`: the batch goes into this notebook's `out_dir`, the data root becomes absolute, and the
    seed axis is narrowed to our `seed`. With `quick=True` the recipe's smoke block is used instead.
    """
)

nb.code(
    """
    declared, _ = notebook_parameters(load_recipe(recipe_path).notebook)
    overrides = {k: v for k, v in {"data_root": str(root), "seed": seed, "device": device}.items() if k in declared}
    recipe = load_recipe(recipe_path, smoke=quick, out=out / recipe_path.stem, overrides=overrides)
    print(f"{recipe.notebook.name}: {len(recipe.points)} point(s)")
    for p in recipe.points:
        print(f"  {p.name:12s} skips={p.params.get('skips')}, seed={p.params.get('seed')}")
    """
)

nb.md(
    """
    ## 3. Dry run, run, run again

    A dry run validates and lists each point's state (`new`, `done`, `changed`, `failed`, `incomplete`) without
    executing anything:
    """
)

nb.code(
    """
    plan = run_batch(recipe, dry_run=True, show_progress=False)
    """
)

nb.code(
    """
    t0 = time.perf_counter()
    result = run_batch(recipe, jobs=jobs, show_progress=show_progress)
    first_s = time.perf_counter() - t0
    print(f"exit code {result.exit_code}, {len(result.ran)} ran, {len(result.failed)} failed, {first_s:.0f} s")
    """
)

nb.md(
    """
    Every point left a folder: the executed notebook (open it to see that point's figures), its `metrics.json`,
    `done.json` (the success marker with a hash of the parameters) and the kernel's log. Running the same batch
    again finds every point done and skips it — this is how a long batch is *resumed* after a crash or a
    Ctrl-C: run the same command again.
    """
)

nb.code(
    """
    t0 = time.perf_counter()
    again = run_batch(recipe, jobs=jobs, show_progress=False)
    rerun_s = time.perf_counter() - t0
    print(f"second run: {len(again.ran)} ran, {sum(not p.will_run for p in again.planned)} skipped")
    print("files of one point:", sorted(f.name for f in (recipe.out / recipe.points[0].name).iterdir()))
    """
)

nb.md(
    """
    From a terminal in the repository, the same batch is

    ```bash
    stclr batch experiments/demo_sparsity.yaml --dry-run
    stclr batch experiments/demo_sparsity.yaml              # resumable: run it again after an interruption
    stclr batch experiments/demo_sparsity.yaml --set seed=1  # one more seed, in its own folders
    stclr batch experiments/demo_sparsity.yaml --smoke      # the smoke block
    ```

    ## 4. The summary

    `summary.md` is for reading (parameters common to all points above the table, the varying ones and the
    numeric metrics in it); `summary.csv` has every column, with the metrics flattened to dotted names:
    """
)

nb.code(
    """
    display(Markdown((recipe.out / "summary.md").read_text()))
    rows = vr.read_summary_csv(recipe.out)
    print(len(rows), "rows;", len(rows[0]), "columns, e.g.", [c for c in rows[0] if c.startswith("metrics.retrieval")])
    """
)

nb.md(
    """
    ## 5. The paper's figure, in miniature

    Fig. 5 of the paper shows R@1/5/10/20 on UCF-101 for low, medium and high sparsity, one bar per setting in each
    group. `summary_table` groups the rows by a parameter and averages the chosen metric columns (mean, standard
    deviation and count over the seeds); `plot_summary_bars` draws it:
    """
)

nb.code(
    """
    measures = {f"R@{k}": f"metrics.retrieval.pretrained.R@{k}" for k in (1, 5, 10, 20)}
    table = vr.summary_table(rows, "params.skips", measures)
    fig = vr.plot_summary_bars(table, ylabel="test queries with a same-class neighbour",
                               title="STCLR with low, medium and high sparsity (synthetic, 30 optimiser steps, one seed)")
    fig.savefig(out / "sparsity_recall.png", dpi=120)
    r1 = {g: ms["R@1"][0] for g, ms in table.items()}
    print("R@1 per setting:", {g: round(v, 1) for g, v in r1.items()},
          f"| largest gap {max(r1.values()) - min(r1.values()):.1f} points")
    fig
    """
)

nb.md(
    """
    *What to notice:* first, how short these runs are. The cell below reads notebook 06's recorded runs
    (`bench/lesson_steps.py`, `docs/data/lesson_steps.json`): the step at which their local–local loss left its
    plateau, against this recipe's budget. A point that stops before that step has not begun to learn motion, so
    its R@1 is that of a barely trained network — at or below random init — whatever its sparsity:
    """
)

nb.code(
    """
    budget = sorted({p.params.get("steps") for p in recipe.points})
    try:
        recorded = [r for r in load_rows("lesson_steps") if r["kind"] == "pretrain" and r["method"] == "stclr"
                    and r["steps"] == COURSE_STEPS and r.get("sll_exit")]
        exits = sorted(r["sll_exit"] for r in recorded)
        print(f"notebook 06's runs ({len(exits)} of them): L_SLL left its plateau at steps {exits[0]}-{exits[-1]} "
              f"(median {exits[len(exits) // 2]}); this recipe's points train for {budget} steps")
    except FileNotFoundError as err:
        print(err)
    """
)

nb.md(
    """
    Second, each bar is **one seed**, so this figure cannot rank the settings even after longer runs: the gap
    printed above has to be compared with what changing only the seed does, and one seed per setting does not
    measure that. For scale, notebook 06's STCLR R@1 after {{lessons.steps}} steps spans {{lessons.06_stclr_span}} over
    {{lessons.seeds}} seeds (`docs/benchmarks.md`, "lessons by pretraining budget and seed"). So read these bars as "no evidence either
    way". That is the lesson a batch makes cheap to learn: add `seed: [0, 1, 2]` to the grid (exercise 1) and the
    bars get error bars. The paper's Figs. 5–6 find low sparsity best for retrieval on UCF-101 and medium best on
    HMDB-51, and Fig. 7 finds that the sparsity level "does not affect the recognition accuracy" (Sec. 4.2.3);
    the paper reports one pretraining per setting, without seeds or error bars, and its text quotes no size for
    the retrieval gaps.

    The batch's folders also hold each point's training curves (through the run folder its `metrics.json` names):
    """
)

nb.code(
    """
    import json

    curves = {}
    for p in recipe.points:
        m = json.loads((recipe.out / p.name / "metrics.json").read_text())
        curves[p.name] = vr.read_jsonl(m["pretrain"]["run_dir"])
    fig = vr.plot_loss_curves(curves, smooth=5, title="Loss per optimiser step of each point")
    fig.savefig(out / "sparsity_losses.png", dpi=120)
    fig
    """
)

nb.md(
    """
    ## 6. The paper's experiments as recipes

    Every table and figure of the paper has a recipe in `experiments/`, with the paper's full-scale parameters
    and a `smoke` block that runs on the synthetic dataset. Pretraining is one shared stage
    (`pretrain_paper.yaml`: STCLR, Simplified TCLR, SSL, TCLR, the three sparsity levels, Diving-48); the
    evaluation recipes point at its folders (`checkpoint_path`, `checkpoint_dir`), so no pretraining is run twice:
    """
)

nb.code(
    """
    for path in sorted(Path("../experiments").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        n_full, n_smoke = len(load_recipe(path).points), len(load_recipe(path, smoke=True).points)
        print(f"{path.name:42s} {Path(data['notebook']).stem:16s} {n_full:2d} points ({n_smoke} in smoke mode)")
    """
)

nb.md(
    """
    ```bash
    stclr batch experiments/pretrain_paper.yaml --gpus 0,1,2,3      # stage 1: eight pretrainings, one GPU each
    stclr batch experiments/tables8_11_retrieval.yaml --gpus 0,1    # stage 2: any evaluation recipe
    stclr batch experiments/tables8_11_finetune.yaml --gpus 0,1,2,3
    ```

    ## 7. Results
    """
)

nb.code(
    """
    metrics["batch"] = {"recipe": recipe_path.name, "smoke": quick, "points": len(recipe.points),
                        "failed": len(result.failed), "seconds_first_run": first_s, "seconds_rerun": rerun_s,
                        "skipped_on_rerun": sum(not p.will_run for p in again.planned)}
    metrics["sparsity"] = {g: {m: v[0] for m, v in ms.items()} for g, ms in table.items()}
    write_json(out / "metrics.json", metrics)
    print(sorted(metrics), sorted(metrics["batch"]))
    """,
    check_output=True,
)

nb.md("**Explore.** Any metric column of the summary, grouped by any parameter:")

nb.widget(
    """
    if interactive:
        import ipywidgets as widgets

        numeric = [c for c in rows[0] if c.startswith("metrics.") and isinstance(rows[0][c], (int, float))]
        params = [c for c in rows[0] if c.startswith("params.")]

        from stclr.widgets import dropdown

        def show(by, metric):
            name = by.removeprefix("params.")
            table = vr.summary_table(rows, by, {metric.split(".")[-1]: metric})
            table = {f"{name} = {g}": v for g, v in table.items()}  # bars say what they group by
            alone = f" (every point has the same {name})" if len(table) == 1 else ""
            display(vr.plot_summary_bars(table, percent=False, title=f"{metric.removeprefix('metrics.')} by {name}{alone}"))

        widgets.interact(show, by=dropdown([(c.removeprefix("params."), c) for c in params], "params.skips",
                                           description="group by"),
                         metric=dropdown([(c.removeprefix("metrics."), c) for c in numeric], measures["R@1"],
                                         description="metric"))
    """
)

nb.md(
    r"""
    ## Summary

    - A recipe is a notebook plus a grid: base `parameters` < `runs` < `grid` < `--set`, one papermill execution
      and one folder per point, `metrics.json` in each (the notebook's contract).
    - Every name and value is checked against the notebook's `parameters` cell before anything starts; papermill
      alone would only warn and run with the default.
    - A batch is resumed by running it again: done points (same parameter hash) are skipped, failed or killed ones
      rerun; one failing point never stops the others.
    - `summary.csv` / `summary.md` collect every point; `vr.summary_table` and `vr.plot_summary_bars` turn them into
      the paper's Fig. 5–7 (and `vr.plot_sweep` into Fig. 8).
    - One seed per setting cannot rank settings whose differences are smaller than the seed-to-seed spread.

    ## Check your understanding

    1. What would papermill alone do with the recipe of section 2, and why is that worse than an error?

    <details><summary>Answer</summary>

    It would only warn about the unknown name `skip` and run every point with the notebook's default `skips`, so
    the "low" and "high" points would be the same experiment under two labels; the string `"ten"` would reach the
    notebook as `time_budget_s` and fail (or misbehave) only when that cell runs. Either way the mistake shows up
    hours later, or never, in results that look valid. An error before anything starts costs nothing.

    </details>

    2. Why does each point run in its own kernel and folder, instead of one notebook looping over the grid?

    <details><summary>Answer</summary>

    Isolation and bookkeeping: a fresh kernel starts from the same state every time (no variables, caches or
    random streams left over from the previous point), a crash kills one point and not the batch, each folder keeps
    that point's executed notebook, `metrics.json` and `done.json` for inspecting and resuming, and independent
    points can run in parallel (`--jobs`, one GPU each with `--gpus`).

    </details>

    3. You change `steps` in the recipe and run the batch again. Which points run?

    <details><summary>Answer</summary>

    All of them. `steps` is a parameter of every point, so every point's parameter hash changes; `done.json`
    then holds another hash, the point's state is `changed`, and it runs again in its folder (the folder name,
    from `name_format`, does not contain `steps`).

    </details>

    4. Why are the paper's experiments split into a pretraining recipe and evaluation recipes?

    <details><summary>Answer</summary>

    Pretraining is by far the most expensive stage, and each pretrained model serves several evaluations
    (retrieval and fine-tuning, several datasets and splits, a weight-decay sweep). Pretraining once, in one
    resumable batch, and pointing the evaluation recipes at its folders means no pretraining runs twice, and an
    evaluation can be redone without touching it.

    </details>

    5. How many seeds would you want before claiming that low sparsity beats high sparsity by 2 points of R@1?

    <details><summary>Answer</summary>

    It depends on the seed-to-seed standard deviation $\sigma$ of R@1 for one setting (measure it: exercise 1, or
    the "course seeds" table). The difference of two means over $n$ seeds each has standard deviation
    $\sigma\sqrt{2/n}$; for a 2-point gap to be about two of those, $2\sigma\sqrt{2/n} \le 2$, i.e.
    $n \ge 2\sigma^2$. For example, $\sigma = 3$ points would need about 18 seeds per setting: tens of runs,
    not one.

    </details>

    ## Exercises

    **1.** Run the demo with three seeds and plot the bars with error bars.

    <details><summary>Solution</summary>

    ```python
    data = yaml.safe_load(recipe_path.read_text())
    data["grid"]["seed"] = [0, 1, 2]  # the same recipe with a longer seed axis (or edit the file)
    more = recipe_from_dict(data, recipe_dir=recipe_path.parent, out=out / "three_seeds",
                            overrides={"data_root": str(root)})
    run_batch(more, jobs=jobs)
    t3 = vr.summary_table(vr.read_summary_csv(more.out), "params.skips", measures)
    vr.plot_summary_bars(t3)
    ```
    Nine points take about three times as long as the demo. Compare the error bars (sample standard deviation
    over seeds) with the gaps between the settings before you rank them.
    </details>

    **2.** Make a point fail on purpose (e.g. `--set method=nonsense` is rejected by validation; instead give a
    `data_root` with no videos) and look at `error.json` and the summary's failure section.

    <details><summary>Solution</summary>

    ```python
    empty = out / "empty_data"
    empty.mkdir(exist_ok=True)
    (empty / "readme.txt").write_text("not a dataset")
    broken = load_recipe(recipe_path, smoke=True, out=out / "failing", overrides={"data_root": str(empty)})
    r = run_batch(broken)
    print(r.exit_code, (broken.out / broken.points[0].name / "error.json").read_text()[:500])
    ```
    The point fails in the notebook's data cell ("holds another dataset"), the batch exits with code 1, and
    `summary.md` lists the failure with its cell and message; the executed notebook is kept, open at the error.
    </details>

    **3.** Draw Fig. 8 from a batch of `experiments/fig8_regularization.yaml` in smoke mode.

    <details><summary>Solution</summary>

    ```python
    fig8 = load_recipe("../experiments/fig8_regularization.yaml", smoke=True, out=out / "fig8",
                       overrides={"data_root": str(root)})
    run_batch(fig8)
    rows8 = vr.read_summary_csv(fig8.out)
    series = {}
    for r in rows8:
        init = r["name"].split(",")[0]
        series.setdefault(init, {})[r["params.weight_decay"]] = r["metrics.finetune.pretrained.video_accuracy"]
    vr.plot_sweep(series, xlabel="weight decay", ylabel="video-level accuracy (%)")
    ```
    </details>

    ## References

    - STCLR paper (H. Altabrawee, M. H. Mohd Noor, *STCLR: Sparse Temporal Contrastive Learning for Video
      Representation*, Neurocomputing): Sec. 4.2.3 and Figs. 5–7 (sparsity), Sec. 4.3.2 and Fig. 8
      (regularisation), Tables 2–11 (the recipes in `experiments/`); the settings of each experiment:
      [docs/method.md](../docs/method.md#5-settings-of-the-experiments).
    - papermill (parameterised notebooks) and nbclient; `experiments/README.md` (the recipe format and the
      notebook contract); `stclr/batch.py`.
    - Notebook 06 (the notebook the demo runs), 07 and 08 (the evaluation notebooks of the paper's recipes).
    """
)
