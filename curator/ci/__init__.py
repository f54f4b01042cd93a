"""What the GitHub workflows do, as plain functions: the steps ``curator ci <step>`` runs.

The YAML in ``.github/workflows/`` only calls ``curator ci <step>``; the end-to-end test calls the
same steps on real git repositories. So what is tested is exactly what CI runs. One module per job:

* :mod:`~curator.ci.submission` — the pull request's submission check and its comment;
* :mod:`~curator.ci.shards` — the re-verification job matrix and one shard's run;
* :mod:`~curator.ci.verdicts` — each claim's shard reports merged, and the verdict comment;
* :mod:`~curator.ci.publish` — on a push to main, each new submission approved with its report;
* :mod:`~curator.ci.github` — the REST calls that find the report of a merged pull request.

They share :mod:`~curator.ci.layout` (which paths a pull request may touch),
:mod:`~curator.ci.git` (the repository, read-only), :mod:`~curator.ci.commands` (every command
line CI runs, and running it) and :mod:`~curator.ci.comments` (markdown for summaries and comments).

Trust: files from a pull request are read as *data* (``git show`` of blobs at the PR's head), never
checked out and never executed; everything that runs is the base branch's curator.
"""
