"""The district installer cache: every file the roles install on a PC, gathered on the
operator's machine (`wardwatch cache build`) and checked (`wardwatch cache check`).

Layout of a cache directory:
  wheels/       the agent's wheel and its dependencies for every platform of the inventory
  files/        what pip cannot provide (Windows embeddable Python, NSSM, the virtualized
                client's installers): put there by the operator
  manifest.yml  name, file, sha256 of every file above (the wheels' entries written by
                `cache build`, the others filled by the operator)
"""
