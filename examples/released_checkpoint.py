"""Score a panel with a released LABOR-LLM checkpoint (needs the weights and, in practice, a GPU).

Run: ``python examples/released_checkpoint.py [SUBFOLDER]``

The 12 released checkpoints live in the Hugging Face repository ``tianyudu/LABOR_LLM`` (subfolders
such as ``ft_7b_NLSY79_with_birth_year_ckpt_bo5``). A 7B model in bfloat16 needs about 14 GB of
GPU memory. When the weights cannot be reached (no network, no access, or
``HF_HUB_OFFLINE=1`` without a local copy) the script says so and exits with status 1.

The checkpoints were trained on NLSY79/NLSY97/PSID resumes coded in occ1990dd titles, written
with the authors' template: override ``ResumeTemplate`` to match it exactly before trusting
the numbers (``valid_mass`` near 1 is a good sign that the template matches).
"""

import sys

import labor_econ as le
from labor_econ.datasets import simulate_panel
from labor_econ.taxonomies import occ1990

subfolder = sys.argv[1] if len(sys.argv) > 1 else "ft_7b_NLSY79_with_birth_year_ckpt_bo5"
try:
    lm = le.load_lm("tianyudu/LABOR_LLM", subfolder=subfolder)
except le.LMLoadError as err:
    sys.exit(f"could not load the checkpoint:\n{err}")

# Stand-in careers in occ1990 codes; replace with your own CareerPanel (e.g. from_stata).
panel = simulate_panel(50, taxonomy=occ1990(), seed=0)
model = le.LLMModel(panel, lm, template="labor_llm")
res = model.fit(calibrate=True)
print(res.summary())
print(f"mean valid mass: {res.valid_mass.mean():.3f}")
