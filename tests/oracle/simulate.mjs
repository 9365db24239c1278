// The differential oracle (test-time only, never shipped): answers "is this action on this
// resource allowed by this identity policy?" with @cloud-copilot/iam-simulate, an independent IAM
// simulator (AGPL-3.0; installed into .tools/oracle by `make oracle`, not part of the product).
// Reads JSON lines {"id": n, "policy": {...}, "action": "...", "resource": "..."} on stdin and
// writes {"id": n, "result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "error", ...}.
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  const q = JSON.parse(line)
  let out
  try {
    // The question is what the policy grants in its own account: the request is made in the
    // account the resource ARN names (a cross-account request would also need a resource policy).
    const account = /^arn:[^:]*:[^:]*:[^:]*:(\d{12}):/.exec(q.resource)?.[1] ?? '123456789012'
    const response = await runSimulation(
      {
        identityPolicies: [{ name: 'policy', policy: q.policy }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        request: {
          action: q.action,
          principal: `arn:aws:iam::${account}:user/tester`,
          resource: { accountId: account, resource: q.resource },
          contextVariables: {},
        },
      },
      {},
    )
    if (response.resultType === 'error') {
      out = { id: q.id, result: 'error', error: JSON.stringify(response.errors).slice(0, 300) }
    } else {
      out = { id: q.id, result: response.overallResult }
    }
  } catch (e) {
    out = { id: q.id, result: 'error', error: String(e).slice(0, 300) }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}
