"""Measuring review quality: replay a labelled benchmark offline, or score a live pool.

`fuse-ls eval replay DIR` fuses recorded reviews of real pull requests with the product's
own clustering and vote policy and scores the result with the benchmark judge's labels;
`fuse-ls eval live CASES` runs the configured pool and judge on cases with golden findings.
"""
