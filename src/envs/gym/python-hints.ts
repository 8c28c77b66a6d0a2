/**
 * What to install, said in the errors of a bridge whose Python cannot run it: the interpreter
 * missing, or numpy or Gymnasium not importable in it. Debian 12's Python refuses a system-wide
 * `pip install` (PEP 668) and has no Gymnasium package, so the hint names a virtual environment and
 * STAQ_PYTHON, which is how staq is told to use it.
 */
import { StaqInputError } from "../../errors.ts";

/** The interpreter the bridge runs: the `python` option, else $STAQ_PYTHON, else python3. */
export function defaultPython(): string {
  return process.env.STAQ_PYTHON || "python3";
}

const CHOOSE = "STAQ_PYTHON=/path/to/python (or the option python) chooses the interpreter";
const VENV =
  "python3 -m venv ~/.venvs/staq-gym && ~/.venvs/staq-gym/bin/pip install gymnasium, then STAQ_PYTHON=~/.venvs/staq-gym/bin/python";

export function pythonMissing(name: string, python: string, detail: string): StaqInputError {
  return new StaqInputError(
    `${name} steps a Python environment, but the interpreter ${JSON.stringify(python)} could not be started (${detail}). ` +
      `Install Python 3 with numpy and Gymnasium (Debian: apt install python3 python3-numpy; then pip install gymnasium, or in a virtual environment: ${VENV}); ${CHOOSE}`,
  );
}

export function numpyMissing(name: string, python: string, detail: string): StaqInputError {
  return new StaqInputError(
    `${name}: the Python worker needs numpy, which ${python} cannot import (${detail}). ` +
      `Install it: pip install numpy (Debian: apt install python3-numpy), or use a Python that has it; ${CHOOSE}`,
  );
}

export function gymnasiumMissing(name: string, python: string, detail: string): StaqInputError {
  return new StaqInputError(
    `${name}: Gymnasium ids need the gymnasium package, which ${python} cannot import (${detail}). ` +
      `Install it: pip install gymnasium (Debian 12 has no package for it: ${VENV}); ${CHOOSE}. ` +
      `An env of your own needs no Gymnasium as gym:module.path:factory`,
  );
}
