"""The `labor-econ demo` job as a readable script: a fine-tuned tiny LM beside Markov and MNLogit.

Run: ``python examples/demo_walkthrough.py`` (about a minute on a laptop CPU the first time;
the trained tiny model is cached in ~/.cache/labor_econ and reused afterwards).
"""

import labor_econ as le
from labor_econ.datasets import wage_panel
from labor_econ.demo import DemoConfig, demo_lm

# 1. The NLSY wage panel, split by person: 20% test, then 10% of the rest for validation.
panel = wage_panel()
fit_panel, test = panel.split(test_size=0.2, seed=0)
train, val = fit_panel.split(test_size=0.1, seed=0)

# 2. A tiny Llama: tokenizer trained on the training resumes, fine-tuned on them with
#    le.finetune, best validation epoch kept. On a GPU, load a real checkpoint instead:
#    lm = le.load_lm("tianyudu/LABOR_LLM", subfolder="ft_7b_NLSY79_with_birth_year_ckpt_bo5")
lm = demo_lm(train, val, config=DemoConfig())

# 3. The econometric baselines, on the same persons the LM learned from.
marginal = le.MarginalModel(fit_panel).fit()
markov = le.MarkovModel(fit_panel).fit()
mnlogit = le.MNLogitModel(fit_panel).fit()

# 4. The LLM as a statsmodels model: its own probabilities, and calibrated on validation persons.
llm_model = le.LLMModel(val, lm, template="labor_llm")
llm = llm_model.fit()
llm_calibrated = llm_model.fit(calibrate=True)
print(llm_calibrated.summary())

# 5. One table on the test persons, and the tests between the models.
models = {"Markov": markov, "MNLogit": mnlogit, "LLM": llm, "LLM calibrated": llm_calibrated}
comparison = le.compare({"Marginal": marginal, **models}, test)
print(comparison.summary())
print(le.vuong_test(llm_calibrated, mnlogit, test))
pool = le.LogLinearPoolModel(test, {"LLM": llm_calibrated, "MNLogit": mnlogit}).fit()
print(pool.summary())
print(pool.encompassing_test("LLM"))
