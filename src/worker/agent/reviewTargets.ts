/**
 * What a review looks at, in words: the request the reviewer model gets for each `review/start`
 * target and the short label clients show (`enteredReviewMode.review`). As codex does, the request
 * names the git command that shows the changes rather than carrying the diff; for a base branch the
 * merge base is looked up first so the command is exact. Labels follow codex ("current changes",
 * "changes against 'main'", "commit abc1234: subject").
 *
 * It must never run anything but a read-only `git merge-base`, and never fail a review because git is
 * missing: the request then tells the model how to find the merge base itself.
 */
import { execFile } from 'node:child_process'
import type { ReviewTarget } from '../protocol/review'

export interface ReviewRequest {
  /** The user message the reviewer model gets. */
  prompt: string
  /** The label for clients. */
  hint: string
}

const GIT_TIMEOUT_MS = 10_000

/** `git merge-base HEAD <branch>` in `cwd`, or null when git cannot tell. */
export function mergeBase(cwd: string, branch: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['merge-base', 'HEAD', branch],
      { cwd, timeout: GIT_TIMEOUT_MS, windowsHide: true },
      (error, stdout) => {
        const sha = String(stdout).trim()
        resolve(error || !/^[0-9a-f]{7,64}$/i.test(sha) ? null : sha)
      },
    )
  })
}

export function reviewHint(target: ReviewTarget): string {
  switch (target.type) {
    case 'uncommittedChanges':
      return 'current changes'
    case 'baseBranch':
      return `changes against '${target.branch}'`
    case 'commit': {
      const short = target.sha.slice(0, 7)
      return target.title ? `commit ${short}: ${target.title}` : `commit ${short}`
    }
    case 'custom':
      return target.instructions.trim()
  }
}

export async function reviewRequest(target: ReviewTarget, cwd: string): Promise<ReviewRequest> {
  const hint = reviewHint(target)
  switch (target.type) {
    case 'uncommittedChanges':
      return {
        hint,
        prompt:
          'Review the uncommitted changes in the working tree: staged, unstaged and untracked files. ' +
          'See them with `git status --short`, `git diff --staged` and `git diff`, and read untracked ' +
          'files directly. Report prioritized findings.',
      }
    case 'baseBranch': {
      const branch = target.branch
      const base = await mergeBase(cwd, branch)
      return {
        hint,
        prompt: base
          ? `Review the changes on the current branch against the base branch '${branch}'. Their merge ` +
            `base is commit ${base}: run \`git diff ${base}\` to see what would be merged into ` +
            `${branch}. Report prioritized, actionable findings.`
          : `Review the changes on the current branch against the base branch '${branch}'. First find ` +
            `their merge base, e.g. \`git merge-base HEAD "$(git rev-parse --abbrev-ref ` +
            `"${branch}@{upstream}")"\` (or \`git merge-base HEAD ${branch}\`), then run \`git diff\` ` +
            `against that commit. Report prioritized, actionable findings.`,
      }
    }
    case 'commit': {
      const subject = target.title ? ` ("${target.title}")` : ''
      return {
        hint,
        prompt:
          `Review the changes that commit ${target.sha}${subject} introduced; ` +
          `\`git show ${target.sha}\` shows them. Report prioritized, actionable findings.`,
      }
    }
    case 'custom':
      return { hint, prompt: target.instructions.trim() }
  }
}
