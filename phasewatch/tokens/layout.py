"""Names of the store format (DESIGN.md "Native run folder"), in a module without numpy: the
`tokens` command's path with the compiled kernel imports no numpy at all (`fused`)."""

INDEX_FILE = "index.json"
STEP_FILE = "step_{:08d}.npy"
DTYPES = ("float16", "float32")
SPLITS = ("train", "heldout")

#: How exact the summaries of a store of each dtype are (`keys` says why).
PRECISION = {
    "float16": "exact (float16)",
    "float32": "bfloat16 keys: log p to a relative 2**-8",
    "float64": "bfloat16 keys: log p to a relative 2**-8",
}
