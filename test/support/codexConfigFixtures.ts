/** Config fixtures taken from codex 0.169: a stock user config.toml and the Codex TUI's thread overrides. */
/** A config.toml as a codex 0.169 user keeps it: many keys codex-desk has no use for. */
export const STOCK_CODEX_CONFIG = `model = "gpt-5.1-codex"
model_reasoning_effort = "high"
model_verbosity = "low"
check_for_update_on_startup = false
hide_agent_reasoning = true
show_raw_agent_reasoning = false
file_opener = "cursor"
web_search = "cached"
personality = "pragmatic"
project_doc_max_bytes = 65536
project_doc_fallback_filenames = ["CLAUDE.md"]
approvals_reviewer = "user"
default_permissions = ":workspace"
notify = ["notify-send", "Codex"]

[features]
multi_agent = true
shell_snapshot = true
web_search_request = true
multi_agent_v2 = { enabled = false }

[tools]
web_search = true

[tools.update_plan]
enabled = true

[tui]
notifications = ["agent-turn-complete"]
animations = false
theme = "dracula"
status_line = ["model-with-reasoning", "current-dir"]

[tui.keymap.global]
submit = ["ctrl-enter", "enter"]

[history]
persistence = "save-all"
max_bytes = 1048576

[otel]
environment = "dev"
log_user_prompt = false
exporter = { otlp-http = { endpoint = "http://localhost:4318", protocol = "binary" } }

[notice]
hide_full_access_warning = true
model_migrations = { "gpt-5" = "gpt-5.1" }

[sandbox_workspace_write]
network_access = true
writable_roots = ["/tmp/extra"]

[shell_environment_policy]
inherit = "core"

[model_providers.ollama]
name = "Ollama"
base_url = "http://localhost:11434/v1"
supports_websockets = false

[agents]
max_threads = 4
job_max_runtime_seconds = 600

[agents.reviewer]
description = "Reviews diffs"

[profiles.deep]
model = "o3"
model_reasoning_effort = "high"
approval_policy = "never"

[profiles.deep.features]
shell_tool = false

[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-mcp"]
env = { TOKEN_FILE = "/tmp/token" }
startup_timeout_sec = 20.0

[mcp_servers.remote]
url = "https://mcp.example.com/mcp"
bearer_token_env_var = "MCP_TOKEN"

[projects."/home/me/work"]
trust_level = "trusted"

[windows]
sandbox = "elevated"

[memories]
generate_memories = false

[skills.bundled]
enabled = true
`

/** The `config` map the Codex TUI sends with its title-generation thread/start (recorded from codex 0.169). */
export const TUI_TITLE_OVERRIDES = {
  'features.current_time_reminder': false,
  'features.memories': false,
  'features.code_mode_only': false,
  'tools.update_plan.enabled': false,
  default_permissions: ':read-only',
  'cloud.skills.enabled': false,
  'features.hooks': false,
  'features.multi_agent_v2': false,
  'features.shell_snapshot': false,
  'features.multi_agent': false,
  'features.token_budget': false,
  'features.code_mode': false,
  'features.request_permissions_tool': false,
  'features.standalone_web_search': false,
  'skills.include_instructions': false,
  'features.context_management': false,
  'features.image_generation': false,
  'features.tool_suggest': false,
  'features.unified_exec': false,
  mcp_servers: {},
  'features.apps': false,
  'features.goals': false,
  'features.view_image': false,
  'features.shell_tool': false,
  'tools.experimental_request_user_input.enabled': false,
  'features.enable_fanout': false,
  'features.plugins': false,
  'features.deferred_executor': false,
  web_search: 'disabled',
}
