--- :checkhealth fuse_ls
local M = {}

local health = vim.health

--- Settings shape (docs/protocol.md). Values: a type name, '?' suffix for nullable,
--- a list of allowed strings, or a nested table.
local SCHEMA = {
  pool = 'pool',
  judge = 'model',
  mode = { 'best-of', 'merge', 'debate' },
  quorum = { min_responses = 'int?', deadline_s = 'number' },
  timeouts = { connect_s = 'number', request_s = 'number', first_token_s = 'number' },
  retries = { max_attempts = 'int', backoff_base_s = 'number', backoff_max_s = 'number' },
  budget = { max_usd_per_request = 'number?', max_usd_per_day = 'number?' },
  provider = {
    base_url = 'string',
    api_key_env = 'string',
    referer = 'string',
    title = 'string',
    deny_data_collection = 'boolean',
  },
  debate = { rounds = 'int' },
  review = { context_lines = 'int', redact_secrets = 'boolean', min_votes_for_warning = 'int' },
  telemetry = {
    enabled = 'boolean',
    record_content = 'boolean',
    retention_days = 'int',
    max_total_mb = 'int',
    max_lines_per_file = 'int',
    data_dir = 'string?',
  },
}

local MODEL_KEYS = {
  id = 'string',
  base_url = 'string?',
  api_key_env = 'string?',
  ['repeat'] = 'int',
  max_tokens = 'int?',
  temperature = 'number?',
}

local function snake(key)
  return (tostring(key):gsub('(%l)(%u)', '%1_%2'):gsub('%u', string.lower))
end

local function is_null(v)
  return v == nil or v == vim.NIL
end

local function check_type(v, t)
  local nullable = t:sub(-1) == '?'
  t = t:gsub('%?$', '')
  if is_null(v) then
    return nullable
  end
  if t == 'int' then
    return type(v) == 'number' and v == math.floor(v)
  end
  return type(v) == t
end

--- Check each key of `tbl` against `spec` (key -> type name), reporting under `path`.
local function check_keys(tbl, spec, path, problems)
  for k, val in pairs(tbl) do
    local t = spec[snake(k)]
    if not t then
      table.insert(problems, ('%s.%s: unknown key'):format(path, k))
    elseif not check_type(val, t) then
      table.insert(problems, ('%s.%s = %s: expected %s'):format(path, k, vim.inspect(val), t))
    end
  end
end

local function validate_model(v, path, problems)
  if type(v) == 'string' then
    if v == '' then
      table.insert(problems, ('%s: empty model id'):format(path))
    end
    return
  end
  if type(v) ~= 'table' or vim.islist(v) then
    table.insert(problems, ('%s: expected a model id or {id=...}, got %s'):format(path, vim.inspect(v)))
    return
  end
  check_keys(v, MODEL_KEYS, path, problems)
  local has_id = false
  for k in pairs(v) do
    has_id = has_id or snake(k) == 'id'
  end
  if not has_id then
    table.insert(problems, ('%s: missing id'):format(path))
  end
end

--- Validate the fuseLs settings table against the documented shape.
--- @param s table
--- @return string[] problems
function M.validate_settings(s)
  local problems = {}
  if s == nil or s == vim.NIL then
    return problems
  end
  if type(s) ~= 'table' then
    return { ('settings: expected a table, got %s'):format(type(s)) }
  end
  for k, v in pairs(s) do
    local key = snake(k)
    local spec = SCHEMA[key]
    if spec == nil then
      table.insert(problems, ('%s: unknown key'):format(k))
    elseif spec == 'pool' then
      if type(v) ~= 'table' or not vim.islist(v) or #v == 0 then
        table.insert(problems, ('pool: expected a non-empty list of model ids, got %s'):format(vim.inspect(v)))
      else
        for i, m in ipairs(v) do
          validate_model(m, ('pool[%d]'):format(i), problems)
        end
      end
    elseif spec == 'model' then
      validate_model(v, key, problems)
    elseif vim.islist(spec) then
      if not vim.list_contains(spec, v) then
        table.insert(
          problems,
          ('%s = %s: expected one of %s'):format(k, vim.inspect(v), table.concat(spec, ', '))
        )
      end
    elseif type(v) ~= 'table' then
      table.insert(problems, ('%s: expected a table, got %s'):format(k, vim.inspect(v)))
    else
      check_keys(v, spec, k, problems)
    end
  end
  local rounds = type(s.debate) == 'table' and s.debate.rounds
  if type(rounds) == 'number' and (rounds < 1 or rounds > 3) then
    table.insert(problems, ('debate.rounds = %d: expected 1..3'):format(rounds))
  end
  table.sort(problems)
  return problems
end

--- Look a settings key up in snake_case or camelCase.
local function get(tbl, section, key)
  if type(tbl) ~= 'table' then
    return nil
  end
  local sec = tbl[section]
  if type(sec) ~= 'table' then
    return nil
  end
  local camel = key:gsub('_(%l)', string.upper)
  local v = sec[key]
  if is_null(v) then
    v = sec[camel]
  end
  if is_null(v) then
    return nil
  end
  return v
end

--- The prefix of `cmd` that runs the fuse-ls CLI (everything before `serve`).
--- @param cmd string[]
--- @return string[]
function M.cli_prefix(cmd)
  local prefix = {}
  for _, a in ipairs(cmd) do
    if a == 'serve' then
      return prefix
    end
    table.insert(prefix, a)
  end
  return { cmd[1] }
end

local function run(argv, env, timeout_ms)
  local ok, obj = pcall(vim.system, argv, { text = true, env = env })
  if not ok then
    return { code = -1, stdout = '', stderr = tostring(obj) }
  end
  local res = obj:wait(timeout_ms or 10000)
  return res
end

local function first_line(s)
  return (vim.split(vim.trim(s or ''), '\n', { plain = true })[1] or '')
end

--- `fuse-ls doctor --json --offline`: the configuration files and environment as the
--- server loads them (editor settings come on top and are checked above).
local function check_doctor(prefix, env, cwd)
  local argv = vim.list_extend(vim.deepcopy(prefix), { 'doctor', '--json', '--offline' })
  local ok, obj = pcall(vim.system, argv, { text = true, env = env, cwd = cwd })
  if not ok then
    return nil
  end
  local res = obj:wait(20000)
  local okj, data = pcall(vim.json.decode, res.stdout or '', { luanil = { object = true, array = true } })
  if not okj or type(data) ~= 'table' or type(data.checks) ~= 'table' then
    return nil
  end
  return data
end

--- Report the doctor's configuration checks ({check, status, detail}).
-- The host of a base URL, lowercased, without user:password@, port or IPv6 brackets.
local function url_host(url)
  local authority = (url:match('^%a[%w+.-]*://([^/?#]*)') or ''):gsub('^.*@', '')
  local v6 = authority:match('^%[([^%]]*)%]')
  return (v6 or authority:gsub(':%d*$', '')):lower()
end

-- Mirrors fuse_ls/core/hosts.py: openrouter.ai or a subdomain, never openrouter.ai.example.com.
local function is_openrouter(url)
  local host = url_host(url)
  return host == 'openrouter.ai' or host:sub(-#'.openrouter.ai') == '.openrouter.ai'
end

-- Mirrors keyscope.origin: `scheme://host:port` without any user:password@.
local function url_origin(url)
  local scheme, authority = url:match('^(%a[%w+.-]*://)([^/?#]*)')
  if not scheme then
    return url
  end
  return scheme .. authority:gsub('^.*@', '')
end

local function report_doctor(data)
  for _, c in ipairs(data.checks) do
    local name = c.check or c.name or 'check'
    if name == 'config' or name == 'config sources' then
      local msg = ('config files and environment: %s'):format(c.detail or '')
      if name == 'config sources' then
        msg = ('config sources: %s'):format(c.detail or '')
      end
      local st = tostring(c.status or ''):lower()
      if st == 'ok' then
        if name == 'config sources' then
          health.info(msg)
        else
          health.ok(msg)
        end
      elseif st == 'error' then
        health.error(msg, { 'fix the key in the file or environment variable named above' })
      else
        health.info(msg)
      end
    end
  end
end

function M.check()
  local fuse = require('fuse_ls')

  health.start('fuse-ls: Neovim')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.11 or newer is required, found ' .. tostring(vim.version()))
    return
  end

  local config = vim.lsp.config[fuse.name]
  if not config then
    health.error('no configuration named fuse_ls: call require("fuse_ls").setup() or put lsp/fuse_ls.lua on the runtimepath')
    return
  end
  if vim.lsp.is_enabled(fuse.name) then
    health.ok('vim.lsp.enable("fuse_ls") is active')
  else
    health.warn('fuse_ls is configured but not enabled', {
      'call require("fuse_ls").setup() or vim.lsp.enable("fuse_ls")',
    })
  end

  -- Server executable ---------------------------------------------------
  health.start('fuse-ls: server')
  local env = config.cmd_env
  local prefix
  if type(config.cmd) == 'function' then
    health.info('cmd is a function (e.g. a TCP connection); the executable cannot be checked here')
  elseif type(config.cmd) ~= 'table' or not config.cmd[1] then
    health.error('cmd is not set')
  else
    local exe = config.cmd[1]
    local path = vim.fn.exepath(exe)
    if path == '' then
      health.error(
        ('server executable not found: `%s` is not executable (cmd = %s)'):format(
          exe,
          vim.inspect(config.cmd)
        ),
        {
          'install it: `pipx install fuse-ls` (or `pip install fuse-ls` in a virtualenv)',
          'or point the plugin at it: require("fuse_ls").setup({ cmd = { "/path/to/fuse-ls", "serve" } })',
        }
      )
    else
      health.ok(('server executable: %s (cmd: %s)'):format(path, table.concat(config.cmd, ' ')))
      prefix = M.cli_prefix(config.cmd)
      local res = run(vim.list_extend(vim.deepcopy(prefix), { '--version' }), env, 15000)
      local out = first_line(res.stdout)
      if res.code == 0 and out:match('^fuse%-ls') then
        health.ok('version: ' .. out)
      else
        prefix = nil
        health.error(
          ('`%s --version` failed (exit %s): %s'):format(
            table.concat(M.cli_prefix(config.cmd), ' '),
            tostring(res.code),
            first_line(res.stderr) ~= '' and first_line(res.stderr) or out
          ),
          { 'check that cmd runs fuse-ls, e.g. { "fuse-ls", "serve" } or { "python", "-m", "fuse_ls", "serve" }' }
        )
      end
    end
  end

  -- Settings ------------------------------------------------------------
  health.start('fuse-ls: settings')
  local settings = type(config.settings) == 'table' and config.settings.fuseLs or nil
  local problems = M.validate_settings(settings)
  local init_problems = M.validate_settings(config.init_options)
  for _, p in ipairs(init_problems) do
    table.insert(problems, 'init_options: ' .. p)
  end
  if #problems == 0 then
    local n = type(settings) == 'table' and vim.tbl_count(settings) or 0
    health.ok(('editor settings valid (%d key%s in settings.fuseLs)'):format(n, n == 1 and '' or 's'))
  else
    for _, p in ipairs(problems) do
      health.error('invalid setting: ' .. p, { 'see :help fuse_ls-settings' })
    end
  end

  local cwd = vim.fs.root(0, config.root_markers or {}) or vim.fn.getcwd()
  if require('fuse_ls.lsp').is_trusted(config.trusted, cwd) then
    health.info(('workspace %s is trusted (option `trusted`): its config file may choose endpoints, keys and limits'):format(cwd))
  else
    health.info(
      ('workspace %s is not trusted by the editor (option `trusted`): its config file cannot choose endpoints or keys, nor loosen limits. To trust it: `fuse-ls trust DIR`, or the option; see :help fuse_ls-trust'):format(cwd)
    )
  end
  if prefix then
    local data = check_doctor(prefix, env, cwd)
    if data then
      report_doctor(data)
    else
      health.info('`fuse-ls doctor --json` not available; configuration files not checked')
    end
  end

  -- API key -------------------------------------------------------------
  health.start('fuse-ls: API key')
  local sources = { settings, config.init_options }
  local key_env, base_url
  for _, s in ipairs(sources) do
    key_env = key_env or get(s, 'provider', 'api_key_env')
    base_url = base_url or get(s, 'provider', 'base_url')
  end
  local function env_value(name)
    if env and env[name] ~= nil then
      return env[name]
    end
    return vim.env[name]
  end
  -- Environment wins over editor settings (docs/protocol.md precedence).
  key_env = env_value('FUSE_LS_PROVIDER__API_KEY_ENV') or key_env or 'OPENROUTER_API_KEY'
  base_url = env_value('FUSE_LS_BASE_URL') or base_url or 'https://openrouter.ai/api/v1'
  local names = { key_env }
  local pool = type(settings) == 'table' and settings.pool or nil
  if type(pool) == 'table' then
    for _, m in ipairs(pool) do
      local e = type(m) == 'table' and (m.api_key_env or m.apiKeyEnv) or nil
      if type(e) == 'string' and not vim.list_contains(names, e) then
        table.insert(names, e)
      end
    end
  end
  local local_endpoint = base_url:match('^https?://localhost[:/]')
    or base_url:match('^https?://127%.') ~= nil
    or base_url:match('^https?://%[::1%]') ~= nil
  for _, name in ipairs(names) do
    local v = env_value(name)
    local set = type(v) == 'string' and v ~= ''
    if name == 'OPENROUTER_API_KEY' and not is_openrouter(base_url) then
      -- fuse_ls/core/keyscope.py: the OpenRouter key goes to OpenRouter and nowhere else.
      health.info(
        ('$%s is %s, and not sent to %s: the OpenRouter key only goes to OpenRouter. If this server needs a key, put it in a variable of its own and name that in provider.api_key_env'):format(
          name,
          set and 'set' or 'not set',
          base_url
        )
      )
    elseif set then
      health.ok(('$%s is set (value not shown)'):format(name))
    elseif local_endpoint then
      health.info(('$%s is not set; the endpoint %s is local, which may not need a key'):format(name, base_url))
    else
      local advice = {
        ('export %s=... in the environment that starts Neovim, or pass it with setup({ cmd_env = { %s = ... } })'):format(
          name,
          name
        ),
      }
      if is_openrouter(base_url) then
        table.insert(advice, 'get an OpenRouter key at openrouter.ai/keys, or point provider.base_url at a local OpenAI-compatible server')
        health.error(('$%s is not set: export %s=... (OpenRouter key).'):format(name, name), advice)
      else
        -- keyscope.unset_key: a server elsewhere that was given a variable almost surely
        -- wants its key, but may take none; a warning, as `fuse-ls doctor` says it.
        health.warn(
          ('$%s is not set: %s gets no key. If it needs one, export %s=...; if it needs none, remove api_key_env.'):format(
            name,
            url_origin(base_url),
            name
          ),
          advice
        )
      end
    end
  end

  -- Endpoint ------------------------------------------------------------
  health.start('fuse-ls: endpoint')
  local url = base_url:gsub('/+$', '') .. '/models'
  if vim.fn.executable('curl') == 1 then
    local res = run({ 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', url }, nil, 8000)
    local code = tonumber(vim.trim(res.stdout or '')) or 0
    if res.code == 0 and code >= 200 and code < 300 then
      health.ok(('%s reachable (HTTP %d)'):format(url, code))
    elseif res.code == 0 and code > 0 then
      health.warn(('%s answered HTTP %d'):format(url, code), { 'check provider.base_url' })
    else
      health.error(('%s not reachable: %s'):format(url, first_line(res.stderr)), {
        'check your network, a proxy (HTTPS_PROXY), or provider.base_url / $FUSE_LS_BASE_URL',
      })
    end
  else
    health.warn('curl not found; endpoint reachability not checked (' .. url .. ')')
  end

  -- Running clients -----------------------------------------------------
  health.start('fuse-ls: clients')
  local clients = vim.lsp.get_clients({ name = fuse.name })
  if #clients == 0 then
    health.info('no fuse-ls client running (one starts when a file is opened)')
  end
  for _, c in ipairs(clients) do
    local info = c.server_info or {}
    health.ok(
      ('client %d: %s %s, root %s, %d buffer%s'):format(
        c.id,
        info.name or 'fuse-ls',
        info.version or '',
        c.root_dir or '(none)',
        vim.tbl_count(c.attached_buffers or {}),
        vim.tbl_count(c.attached_buffers or {}) == 1 and '' or 's'
      )
    )
  end
end

return M
