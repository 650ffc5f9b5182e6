/**
 * Every key codex 0.169 accepts in `config.toml`, as a compact type tree, so a stock codex config
 * loads in codex-desk without "unknown key" warnings. The tree was taken from codex's
 * `config.schema.json` and checked against the real 0.169 binary (which keys it reports as ignored,
 * which tables it leaves open). Keys codex-desk implements are validated by ./schema; this tree only
 * decides the rest: accept a key codex accepts (with a type check never stricter than codex's), and
 * report a key codex would not accept, in the same issue shapes zod reports.
 *
 * It must never refuse a value codex accepts: where codex's shape is uncertain (new or untagged
 * types) the spec is `any` or `table`. Plain data and one small walker: nothing here is built at
 * start-up beyond the object literal (the cold-start budget).
 */

/**
 * `bool` `str` `int` `num`: scalars. `strs`: a list of strings. `table`: any table. `any`: anything.
 * `str|strs`, `str|table`, `bool|table`: either. `['map', S]`: a table of any keys, each value S.
 * `['list', S]`: an array of S. An object: a table with those keys; `'*'` types every other key,
 * and without `'*'` other keys are unknown.
 */
export type KeySpec =
  | 'bool'
  | 'str'
  | 'int'
  | 'num'
  | 'strs'
  | 'table'
  | 'any'
  | 'str|strs'
  | 'str|table'
  | 'bool|table'
  | readonly ['map', KeySpec]
  | readonly ['list', KeySpec]
  | TableSpec
export interface TableSpec {
  readonly [key: string]: KeySpec
}

/** The specs, built on first use: a config with only the keys codex-desk reads never needs them. */
export interface CodexSpecs {
  config: TableSpec
  features: TableSpec
  modelProvider: TableSpec
  agents: TableSpec
  shellEnvironmentPolicy: TableSpec
}

let specs: CodexSpecs | undefined

export function codexSpecs(): CodexSpecs {
  specs ??= buildSpecs()
  return specs
}

function buildSpecs(): CodexSpecs {
  /** `{a: spec, b: spec}` from a space-separated list of names that share one spec. */
  const each = (names: string, spec: KeySpec): Record<string, KeySpec> =>
    Object.fromEntries(names.split(' ').map((name) => [name, spec]))

  const keymap = (actions: string): TableSpec => each(actions, 'str|strs')

  /** Feature flags codex 0.169 knows (`codex features list` plus the legacy names it still accepts). */
  const FEATURE_NAMES =
    'agent_message_board agent_message_board_mcp analytics_plan_history api_key_cyber_access_programs ' +
    'api_key_model_discovery app_server_websocket_compression apply_patch_freeform ' +
    'apply_patch_preserve_line_endings apply_patch_streaming_events apps apps_early_resource_discovery ' +
    'artifact async_compaction async_compaction_root_only auth_elicitation ' +
    'background_paginated_rollout_migration bedrock_setup_wizard browser_annotation_api browser_use ' +
    'browser_use_external browser_use_full_cdp_access chronicle cli_daybreak cli_resume_account_check ' +
    'code_mode code_mode_buffered_exec code_mode_host code_mode_host_grpc ' +
    'code_mode_host_output_truncation code_mode_interrupt code_mode_only code_mode_only_strict_3p_tools ' +
    'code_mode_prewarm code_mode_tool_description_first code_mode_tool_search codex_apps_mcp_2026_07_28 ' +
    'codex_git_commit collaboration_modes command_sessions_world_state compaction_image_budget ' +
    'computer_use concurrent_reasoning_summaries content_item_kinds context_management ' +
    'credential_masking critical_path_timing current_time_reminder cwd_relative_turn_diffs ' +
    'daemon_auto_start daybreak_program_propagation default_mode_request_user_input ' +
    'defer_mailbox_preemption deferred_executor deferred_tool_world_state elevated_windows_sandbox ' +
    'enable_fanout enable_mcp_apps enable_request_compression exec_permission_approvals ' +
    'executed_tool_call_metadata executor_capability_discovery executor_capability_discovery_v2 ' +
    'experimental_windows_sandbox external_agent_memory_import external_migration fast_mode ' +
    'gateway_setup_wizard gcp_setup_wizard goals guardian_approval guardian_conversation_history_tools ' +
    'guardian_denial_reconsideration guardian_enhanced_node_repl_transcripts guardian_ext ' +
    'guardian_include_additional_context guardian_native_multi_agent_history ' +
    'guardian_node_repl_transcript_images guardian_recorded_items guardian_reuse_parent_compaction ' +
    'guardian_root_handoff_context guardian_trust_orchestrator_connectors ' +
    'guardianv2_decisions_comparison guardianv3 hooks hosted_search_policy image_detail_original ' +
    'image_generation image_generation_animation image_resize_notice in_app_browser in_app_chat ' +
    'in_app_dictation in_app_local_automation in_app_updates in_app_voice incremental_exec_tools ' +
    'incremental_tools incremental_tools_legacy incremental_tools_legacy_gcp instant_interrupt ' +
    'interrupt_on_cancel item_ids js_repl js_repl_tools_only local_thread_store_compression ' +
    'local_thread_store_shared_compression login_shell_package_path mcp_2026_07_28 ' +
    'mcp_connection_sharing mcp_lazy_stdio_startup mcp_oauth_refresh_coordination mcp_tool_list_changed ' +
    'memories mentions_v2 model_catalog_in_context multi_agent multi_agent_mode ' +
    'multi_agent_v2_dynamic_tools multi_env_copy_file non_prefixed_mcp_tool_names ' +
    'nonfatal_clock_read_errors omit_app_server_notification_media omit_skill_descriptions ' +
    'output_token_replay personality plugin_discovery_prefetch plugin_hooks plugin_sharing plugins ' +
    'powershell_shell_version prediction_preserve_parent_tools prefer_mxc prevent_idle_sleep psp ' +
    'realtime_conversation reasoning_effort_override recommended_plugins remote_compaction_v2 ' +
    'remote_control remote_models remote_plugin request_permissions_tool request_rule resize_all_images ' +
    'respect_system_proxy responses_websockets responses_websockets_v2 ' +
    'retain_client_developer_messages retain_client_tool_outputs rollout_budget runtime_agent_instances ' +
    'runtime_metrics search_tool secret_auth_storage send_async_message send_message_to_user_async ' +
    'shell_snapshot shell_snapshot_v2 shell_tool shell_zsh_fork simplified_selection_hints ' +
    'skill_catalog_deltas skill_env_var_dependency_prompt skill_mcp_dependency_install skill_search ' +
    'skip_host_skill_discovery sleep_tool sqlite stable_environment_tools standalone_web_search steer ' +
    'step_model_switching subagent_default_context_limits subagent_thread_environments ' +
    'suppress_model_change_announcements system_proxy_fallback terminal_resize_reflow ' +
    'terminal_visualization_instructions token_budget tool_call_mcp_elicitation tool_search ' +
    'tool_search_always_defer_mcp_tools tool_suggest transcript_v2 tui_app_server ' +
    'tui_extensions_statusline tui_multi_backend tui_workspace ultrafast_mode unavailable_dummy_tools ' +
    'unbounded_connection_retries undo unified_exec unified_exec_tty unified_exec_zsh_fork ' +
    'unified_image_budget untrusted_as_tool_output use_agent_identity use_legacy_landlock ' +
    'use_linux_sandbox_bwrap use_xaa view_image wake_on_agent_messages web_search_cached ' +
    'web_search_request windows_sandbox_service workspace_dependencies workspace_owner_usage_nudge ' +
    'worktrees write_stdin_approval ' +
    // Legacy names codex still accepts.
    'codex_hooks collab connectors enable_experimental_windows_sandbox ' +
    'experimental_use_unified_exec_tool imagegenext memory_tool request_permissions telepathy web_search'

  /** `[features]`: a flag is a boolean; a few take a table of settings instead. */
  const FEATURES: TableSpec = {
    ...each(FEATURE_NAMES, 'bool'),
    ...each('apps_mcp_path_override multi_agent_v2 network_proxy guardianv2', 'bool|table'),
  }

  const TOOLS: TableSpec = {
    web_search: 'any',
    client_search_provider: 'str|table',
    experimental_request_user_input: { enabled: 'bool' },
    update_plan: { enabled: 'bool' },
  }

  const WINDOWS: TableSpec = { sandbox: 'str', allow_mxc: 'bool' }

  const PROFILE: TableSpec = {
    ...each(
      'model service_tier model_provider approvals_reviewer sandbox_mode model_reasoning_effort ' +
        'plan_mode_reasoning_effort model_reasoning_summary model_verbosity model_catalog_json personality ' +
        'chatgpt_base_url model_instructions_file js_repl_node_path experimental_compact_prompt_file ' +
        'web_search oss_provider',
      'str',
    ),
    ...each(
      'include_permissions_instructions include_apps_instructions include_collaboration_mode_instructions ' +
        'include_environment_context include_environment_context_time experimental_use_unified_exec_tool',
      'bool',
    ),
    approval_policy: 'str|table',
    js_repl_node_module_dirs: 'strs',
    tools: TOOLS,
    analytics: { enabled: 'bool' },
    tui: { session_picker_view: 'str' },
    windows: WINDOWS,
    features: FEATURES,
  }

  const MCP_SERVER: TableSpec = {
    ...each(
      'command cwd url bearer_token_env_var default_tools_approval_mode environment_id name ' +
        'oauth_resource startup_readiness',
      'str',
    ),
    ...each('args disabled_tools enabled_tools scopes', 'strs'),
    ...each('enabled required supports_parallel_tool_calls', 'bool'),
    ...each('startup_timeout_ms tool_input_schema_max_bytes', 'int'),
    ...each('startup_timeout_sec tool_timeout_sec', 'num'),
    env: ['map', 'str'],
    env_http_headers: ['map', 'str'],
    http_headers: ['map', 'str'],
    env_vars: ['list', 'str|table'],
    oauth: 'table',
    auth: 'str|table',
    http_headers_helper: 'str',
    tools: ['map', 'table'],
  }

  const MODEL_PROVIDER: TableSpec = {
    ...each(
      'name base_url env_key env_key_instructions wire_api model_catalog_url experimental_bearer_token ' +
        'project_id location credential_file',
      'str',
    ),
    ...each('http_headers env_http_headers query_params', ['map', 'str']),
    ...each(
      'request_max_retries stream_max_retries stream_idle_timeout_ms websocket_connect_timeout_ms',
      'int',
    ),
    ...each('requires_openai_auth supports_websockets supports_standalone_web_search', 'bool'),
    ...each('auth aws gateway_oauth capabilities', 'table'),
  }

  const AGENTS: TableSpec = {
    ...each('enabled interrupt_message', 'bool'),
    // `max_threads` is codex's older name for `max_concurrent_threads_per_session`.
    ...each('max_threads max_concurrent_threads_per_session max_depth job_max_runtime_seconds', 'int'),
    ...each('default_subagent_model default_subagent_reasoning_effort', 'str'),
    // Any other key names an agent role (`description`, `config_file`, `nickname_candidates`).
    '*': 'table',
  }

  const SHELL_ENVIRONMENT_POLICY: TableSpec = {
    inherit: 'str',
    ...each('ignore_default_excludes experimental_use_profile', 'bool'),
    ...each('exclude include_only', 'strs'),
    set: ['map', 'str'],
    filters: 'table',
  }

  const TUI_KEYMAP: TableSpec = {
    global: keymap(
      'leader change_host focus_main_composer focus_sidebar_content focus_sidebar_tabs hide_pane ' +
        'close_sidebar_tab sidebar_up sidebar_down focus_pane_left focus_pane_right minimize_pane_width ' +
        'maximize_pane_width equalize_pane_widths resize_panes move_divider_left move_divider_right ' +
        'toggle_pane_zoom open_agents open_transcript find_transcript select_transcript focus_activity ' +
        'open_external_editor copy clear_terminal submit queue toggle_shortcuts toggle_vim_mode ' +
        'toggle_fast_mode toggle_raw_output toggle_side_conversation',
    ),
    chat: keymap(
      'open_presets toggle_voice toggle_voice_mute interrupt_turn decrease_reasoning_effort ' +
        'increase_reasoning_effort previous_permission_mode next_permission_mode edit_queued_message ' +
        'prompt_stack_back skip_question',
    ),
    composer: keymap('submit queue toggle_shortcuts history_search_previous history_search_next'),
    editor: keymap(
      'insert_newline move_left move_right move_up move_down move_word_left move_word_right ' +
        'move_line_start move_line_end delete_backward delete_forward delete_backward_word ' +
        'delete_forward_word kill_line_start kill_whole_line kill_line_end yank',
    ),
    vim_normal: keymap(
      'enter_insert append_after_cursor append_line_end insert_line_start open_line_below open_line_above ' +
        'enter_replace_mode move_left move_right move_up move_down move_word_forward move_word_backward ' +
        'move_word_end move_line_start move_line_end find_forward find_backward till_forward till_backward ' +
        'jump_top jump_bottom delete_char replace_char repeat_last_change substitute_char ' +
        'delete_to_line_end change_to_line_end yank_line paste_after start_delete_operator ' +
        'start_yank_operator start_change_operator undo redo cancel_operator',
    ),
    vim_operator: keymap(
      'delete_line yank_line motion_left motion_right motion_up motion_down motion_word_forward ' +
        'motion_word_backward motion_word_end motion_line_start motion_line_end motion_find_forward ' +
        'motion_find_backward motion_till_forward motion_till_backward motion_jump_top motion_jump_bottom ' +
        'select_inner_text_object select_around_text_object cancel',
    ),
    vim_search: keymap('forward backward next previous'),
    vim_text_object: keymap(
      'word big_word parentheses brackets braces double_quote single_quote backtick cancel',
    ),
    pager: keymap(
      'scroll_up scroll_down page_up page_down half_page_up half_page_down jump_top jump_bottom close ' +
        'close_transcript find',
    ),
    list: keymap(
      'move_up move_down move_left move_right page_up page_down jump_top jump_bottom accept cancel',
    ),
    agents: keymap(
      'resume search new_task new_worktree fork rename stop archive delete hide toggle_pin toggle_grouping',
    ),
    approval: keymap(
      'open_fullscreen open_thread approve approve_for_session approve_for_prefix deny decline cancel',
    ),
  }

  /** `[tui]`: codex leaves the table itself open (it ignores unknown keys), but not its sub-tables. */
  const TUI: TableSpec = {
    '*': 'any',
    effects: each('starfield shimmer welcome effort progress title', 'bool'),
    rendering: each('mermaid math tables lists', 'bool'),
    keymap: TUI_KEYMAP,
  }

  /**
   * Every top-level key of codex 0.169's `config.toml`. Keys codex-desk implements are listed too (so
   * this reads as codex's key set); their values are validated by ./schema, not by these specs.
   */
  const CODEX_CONFIG: TableSpec = {
    ...each(
      'model review_model model_provider model_auto_compact_token_limit_scope approvals_reviewer ' +
        'sandbox_mode web_search instructions developer_instructions compact_prompt ' +
        'model_reasoning_effort model_reasoning_summary model_verbosity service_tier ' +
        'cli_auth_credentials_store model_instructions_file mcp_oauth_credentials_store ' +
        'mcp_oauth_callback_url file_opener chatgpt_base_url experimental_realtime_webrtc_call_base_url ' +
        'model_catalog_json log_dir personality experimental_realtime_ws_backend_prompt ' +
        'experimental_realtime_ws_model default_permissions plan_mode_reasoning_effort openai_base_url ' +
        'sqlite_home experimental_compact_prompt_file ' +
        'apps_mcp_product_sku experimental_realtime_ws_startup_context js_repl_node_path ' +
        'experimental_realtime_start_instructions experimental_realtime_ws_base_url oss_provider ' +
        'forced_login_method',
      'str',
    ),
    ...each(
      'model_context_window model_auto_compact_token_limit project_doc_max_bytes mcp_oauth_callback_port ' +
        'thread_unload_delay_secs background_terminal_max_timeout mcp_optional_startup_grace_ms ' +
        'model_post_turn_compact_threshold_percent tool_output_token_limit',
      'int',
    ),
    ...each(
      'check_for_update_on_startup include_collaboration_mode_instructions allow_login_shell ' +
        'hide_agent_reasoning include_permissions_instructions allow_symlinked_codex_home ' +
        'disable_paste_burst include_apps_instructions include_environment_context_time ' +
        'experimental_use_unified_exec_tool suppress_unstable_features_warning show_raw_agent_reasoning ' +
        'include_environment_context daybreak',
      'bool',
    ),
    ...each('notify project_root_markers js_repl_node_module_dirs project_doc_fallback_filenames', 'strs'),
    ...each('experimental_thread_store responses_api_metadata mcp_enterprise_managed_auth', 'table'),
    approval_policy: 'str|table',
    forced_chatgpt_workspace_id: 'str|strs',
    sandbox_workspace_write: {
      writable_roots: 'strs',
      ...each('network_access exclude_tmpdir_env_var exclude_slash_tmp', 'bool'),
    },
    shell_environment_policy: SHELL_ENVIRONMENT_POLICY,
    tools: TOOLS,
    analytics: { enabled: 'bool' },
    apps: {
      _default: each('enabled destructive_enabled open_world_enabled', 'bool'),
      '*': 'table',
    },
    browser_use: { allow_history_access: 'bool', default_origin_policy: 'table', origins: ['map', 'table'] },
    computer_use: { default_app_access: 'str|table', macos: 'table', windows: 'table' },
    desktop: 'table',
    features: FEATURES,
    tool_suggest: { discoverables: ['list', 'table'], disabled_tools: ['list', 'table'] },
    history: { persistence: 'str', max_bytes: 'int' },
    cloud: { skills: { enabled: 'bool' } },
    skills: { bundled: { enabled: 'bool' }, config: ['list', 'table'], include_instructions: 'bool' },
    otel: {
      ...each('log_user_prompt log_sse_deltas log_agent_responses log_guardian_assessments', 'bool'),
      tool_result: 'table',
      environment: 'str',
      ...each('exporter trace_exporter metrics_exporter', 'str|table'),
      span_attributes: ['map', 'str'],
      tracestate: ['map', ['map', 'str']],
    },
    notice: {
      ...each(
        'hide_gov_cloud_guidance hide_full_access_warning hide_world_writable_warning fast_default_opt_out ' +
          'hide_rate_limit_model_nudge hide_gpt5_1_migration_prompt hide_gpt-5.1-codex-max_migration_prompt',
        'bool',
      ),
      model_migrations: ['map', 'str'],
      external_config_migration_prompts: {
        home: 'bool',
        home_last_prompted_at: 'int',
        projects: ['map', 'bool'],
        project_last_prompted_at: ['map', 'int'],
      },
    },
    marketplaces: [
      'map',
      { ...each('last_updated last_revision source_type source ref', 'str'), sparse_paths: 'strs' },
    ],
    hooks: { state: ['map', { enabled: 'bool', trusted_hash: 'str' }], '*': 'any' },
    plugins: ['map', 'table'],
    model_providers: ['map', MODEL_PROVIDER],
    windows: WINDOWS,
    agents: AGENTS,
    profiles: ['map', PROFILE],
    projects: ['map', { trust_level: 'str' }],
    memories: {
      version: 'str|table',
      ...each(
        'dual_write disable_on_external_context generate_memories use_memories dedicated_tools',
        'bool',
      ),
      ...each(
        'max_raw_memories_for_consolidation max_unused_days max_rollout_age_days max_rollouts_per_startup ' +
          'min_rollout_idle_hours min_rate_limit_remaining_percent',
        'int',
      ),
      ...each('extract_model consolidation_model consolidation_service_tier', 'str'),
    },
    feedback: { enabled: 'bool' },
    mcp_servers: ['map', MCP_SERVER],
    goals: { max_goal_token_budget: 'int' },
    permissions: ['map', 'table'],
    orchestrator: { skills: 'table', mcp: 'table' },
    audio: { microphone_channel: 'any', microphone: 'str', speaker: 'str' },
    auto_review: {
      ...each('timeout_ms conversation_history_max_output_tokens', 'int'),
      circuit_break_action: 'str|table',
      ...each('policy experimental_conversation_history_prompt', 'str'),
    },
    realtime: each('version type transport voice', 'str'),
    ghost_snapshot: {
      ...each('ignore_large_untracked_files ignore_large_untracked_dirs', 'int'),
      disable_warnings: 'bool',
    },
    tui: TUI,
  }
  return {
    config: CODEX_CONFIG,
    features: FEATURES,
    modelProvider: MODEL_PROVIDER,
    agents: AGENTS,
    shellEnvironmentPolicy: SHELL_ENVIRONMENT_POLICY,
  }
}

// ---- the walker ----

/** An issue in the shape zod reports (the loader and writer read `code`, `path`, `keys`, `input`). */
export interface KeyIssue {
  code: 'unrecognized_keys' | 'invalid_type'
  path: PropertyKey[]
  input: unknown
  keys?: string[]
  expected?: string
  message: string
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
const isStrings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string')

const SCALAR: Record<string, [(v: unknown) => boolean, string]> = {
  bool: [(v) => typeof v === 'boolean', 'boolean'],
  str: [(v) => typeof v === 'string', 'string'],
  int: [(v) => Number.isInteger(v), 'int'],
  num: [(v) => typeof v === 'number', 'number'],
  strs: [isStrings, 'array'],
  table: [isTable, 'object'],
  any: [() => true, 'any'],
  'str|strs': [(v) => typeof v === 'string' || isStrings(v), 'string'],
  'str|table': [(v) => typeof v === 'string' || isTable(v), 'string'],
  'bool|table': [(v) => typeof v === 'boolean' || isTable(v), 'boolean'],
}

function invalid(path: PropertyKey[], input: unknown, expected: string): KeyIssue {
  return { code: 'invalid_type', path, input, expected, message: `expected ${expected}` }
}

/** Checks `value` against `spec`, appending issues with paths relative to `path`. */
export function checkKeys(value: unknown, spec: KeySpec, path: PropertyKey[], issues: KeyIssue[]): void {
  if (typeof spec === 'string') {
    const [ok, expected] = SCALAR[spec] as [(v: unknown) => boolean, string]
    if (!ok(value)) issues.push(invalid(path, value, expected))
    return
  }
  if (Array.isArray(spec)) {
    const [kind, inner] = spec as readonly ['map' | 'list', KeySpec]
    if (kind === 'list') {
      if (!Array.isArray(value)) return void issues.push(invalid(path, value, 'array'))
      value.forEach((item, i) => checkKeys(item, inner, [...path, i], issues))
      return
    }
    if (!isTable(value)) return void issues.push(invalid(path, value, 'object'))
    for (const [k, v] of Object.entries(value)) checkKeys(v, inner, [...path, k], issues)
    return
  }
  if (!isTable(value)) return void issues.push(invalid(path, value, 'object'))
  checkTableKeys(value, spec as TableSpec, path, issues)
}

/**
 * Checks the keys of a table against a table spec, skipping `handled` keys (validated elsewhere).
 * Unknown keys are reported together, as one `unrecognized_keys` issue, as zod does.
 */
export function checkTableKeys(
  value: Record<string, unknown>,
  spec: TableSpec,
  path: PropertyKey[],
  issues: KeyIssue[],
  handled?: Readonly<Record<string, unknown>>,
): void {
  const unknown: string[] = []
  for (const [k, v] of Object.entries(value)) {
    if (handled && Object.hasOwn(handled, k)) continue
    const own = Object.hasOwn(spec, k) ? spec[k] : spec['*']
    if (own === undefined) unknown.push(k)
    else checkKeys(v, own, [...path, k], issues)
  }
  if (unknown.length > 0) {
    issues.push({
      code: 'unrecognized_keys',
      path,
      input: value,
      keys: unknown,
      message: `Unrecognized keys: ${unknown.join(', ')}`,
    })
  }
}
