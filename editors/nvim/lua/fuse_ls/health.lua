--- :checkhealth fuse_ls
local M = {}

local health = vim.health

local function is_null(v)
  return v == nil or v == vim.NIL
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

local function last_line(s)
  local lines = vim.split(vim.trim(s or ''), '\n', { plain = true })
  return lines[#lines] or ''
end

--- The editor's settings as the server gets them, oldest first: init_options (the
--- initialize request; the trust key is no setting) then settings.fuseLs
--- (workspace/configuration). Non-tables are left out: the server ignores them too.
--- @return table[] layers, string[] ignored
local function editor_layers(config)
  local layers, ignored = {}, {}
  local function add(name, v)
    if is_null(v) then
      return
    elseif type(v) ~= 'table' then
      table.insert(ignored, ('%s is a %s, not a table: the server ignores it'):format(name, type(v)))
      return
    end
    v = vim.deepcopy(v)
    v[require('fuse_ls.lsp').TRUST_KEY] = nil
    table.insert(layers, next(v) == nil and vim.empty_dict() or v)
  end
  add('init_options', config.init_options)
  add('settings.fuseLs', type(config.settings) == 'table' and config.settings.fuseLs or nil)
  return layers, ignored
end

--- `fuse-ls doctor --json` with the editor's settings: what the server would load (files,
--- environment, these settings), the key rows of fuse_ls/core/keyscope.py and, online,
--- what each endpoint answers. The rules live in doctor alone; this file shows its rows.
--- `env` is cmd_env: vim.system adds it to Neovim's environment as vim.lsp does when it
--- starts the server, so doctor sees the variables and keys the server sees.
--- `endpoint_s`: doctor's `--timeout` (nil: none), the most its endpoint checks take.
--- @return vim.SystemObj? process, string? why_not
local function start_doctor(prefix, env, cwd, layers, trusted, online, endpoint_s)
  local okj, input = pcall(vim.json.encode, layers)
  if not okj then
    return nil, 'the editor settings cannot be sent as JSON: ' .. tostring(input)
  end
  local argv = vim.list_extend(vim.deepcopy(prefix), { 'doctor', '--json', '--editor-settings', '-' })
  if not online then
    table.insert(argv, '--offline')
  elseif endpoint_s then
    vim.list_extend(argv, { '--timeout', ('%g'):format(endpoint_s) })
  end
  if trusted then
    table.insert(argv, '--trust')
  end
  local ok, obj = pcall(vim.system, argv, { text = true, env = env, cwd = cwd, stdin = input })
  if not ok then
    return nil, tostring(obj)
  end
  return obj
end

--- Doctor's rows from its finished (or killed) process `res`.
--- @return table? data, string? why_not, boolean? timed_out
local function finish_doctor(res, timeout_ms)
  if res.signal == 9 or res.code == 124 then
    return nil, ('`fuse-ls doctor` did not finish within %g s (option health.timeout_ms)'):format(timeout_ms / 1000), true
  end
  local okd, data = pcall(vim.json.decode, res.stdout or '', { luanil = { object = true, array = true } })
  if not okd or type(data) ~= 'table' or type(data.checks) ~= 'table' then
    local said = last_line(res.stderr) ~= '' and last_line(res.stderr) or first_line(res.stdout)
    return nil, ('`fuse-ls doctor --editor-settings` failed (exit %s): %s'):format(tostring(res.code), said)
  end
  return data
end

--- Doctor's `--timeout` for a wait of `timeout_ms`: 2 s below it (at least 1 s), for
--- doctor's start-up and the rows it prints after the endpoints.
function M.endpoint_seconds(timeout_ms)
  return math.max(1, timeout_ms / 1000 - 2)
end

--- One doctor for every section: its settings, trust and key rows come with the endpoint
--- rows. `--timeout` ends its endpoint checks before timeout_ms, so an endpoint that takes
--- the connection and never answers costs its own row, not every row. Waiting at most
--- `timeout_ms` in all stays: wait() kills a doctor that is still running then, so
--- :checkhealth never hangs.
--- @return table? data, string? why_not, boolean? timed_out
local function run_doctor(prefix, env, cwd, layers, trusted, online, timeout_ms)
  local started = vim.uv.hrtime()
  local endpoint_s = M.endpoint_seconds(timeout_ms)
  local obj, why_not = start_doctor(prefix, env, cwd, layers, trusted, online, endpoint_s)
  if not obj then
    return nil, why_not
  end
  local res = obj:wait(timeout_ms)
  if online and res.code == 2 and (res.stderr or ''):find('--timeout', 1, true) then
    -- A fuse-ls older than `doctor --timeout` stops at its usage error: ask it without,
    -- for what is left of timeout_ms.
    local left = timeout_ms - (vim.uv.hrtime() - started) / 1e6
    obj, why_not = start_doctor(prefix, env, cwd, layers, trusted, online, nil)
    if not obj then
      return nil, why_not
    end
    res = obj:wait(math.max(1, math.floor(left)))
  end
  return finish_doctor(res, timeout_ms)
end

--- The folder the server takes as its workspace (its settings and trust are that
--- folder's): the root of a running fuse-ls client, the one of the buffer :checkhealth
--- was called from first; else the root that buffer would get. :checkhealth shows its
--- own buffer, so the current one is no guide: its root is Neovim's working directory's.
local function server_root(fuse, config)
  local from = vim.fn.bufnr('#')
  from = (from > 0 and vim.api.nvim_buf_is_valid(from)) and from or nil
  local clients = from and vim.lsp.get_clients({ name = fuse.name, bufnr = from }) or {}
  if #clients == 0 then
    clients = vim.lsp.get_clients({ name = fuse.name })
  end
  for _, c in ipairs(clients) do
    if c.root_dir then
      return c.root_dir
    end
  end
  local markers = config.root_markers or {}
  if from and vim.bo[from].buftype == '' and vim.api.nvim_buf_get_name(from) ~= '' then
    local root = vim.fs.root(from, markers)
    if root then
      return root
    end
  end
  return vim.fs.root(vim.fn.getcwd(), markers) or vim.fn.getcwd()
end

local function rows(data, prefix)
  local out = {}
  for _, c in ipairs(data and data.checks or {}) do
    local name = tostring(c.check or '')
    if name == prefix or (prefix:sub(-1) == ' ' and vim.startswith(name, prefix)) then
      table.insert(out, { name = name, status = tostring(c.status or ''), detail = tostring(c.detail or '') })
    end
  end
  return out
end

local SETTINGS_ADVICE = { 'see :help fuse_ls-settings', 'run `fuse-ls doctor` in the workspace for the same checks' }

local function report_settings(data)
  for _, c in ipairs(rows(data, 'editor settings')) do
    health.error('editor settings not checked: ' .. c.detail, SETTINGS_ADVICE)
  end
  for _, c in ipairs(rows(data, 'config sources')) do
    health.info('config sources: ' .. c.detail)
  end
  for _, c in ipairs(rows(data, 'config')) do
    if c.status == 'ok' then
      health.ok(c.detail)
    elseif c.status == 'error' then
      health.error('invalid setting: ' .. c.detail, SETTINGS_ADVICE)
    else
      health.warn(c.detail, SETTINGS_ADVICE)
    end
  end
end

local function report_keys(data)
  local keys = rows(data, 'key ')
  if #keys == 0 then
    health.info('no endpoint names an API key variable (api_key_env)')
  end
  for _, c in ipairs(keys) do
    local var = c.name:sub(#'key ' + 1)
    -- doctor's details start with the key's state ("set ..." / "not set ...").
    local msg = ('$%s is %s'):format(var, c.detail)
    local advice = {
      ('export %s=... in the environment that starts Neovim, or pass it with setup({ cmd_env = { %s = ... } })'):format(var, var),
    }
    if c.status == 'ok' then
      health.ok(msg)
    elseif c.status == 'error' then
      table.insert(advice, 'get an OpenRouter key at openrouter.ai/keys, or point provider.base_url at a local OpenAI-compatible server')
      health.error(msg, advice)
    elseif c.status == 'warning' then
      health.warn(msg, advice)
    else
      health.info(msg)
    end
  end
end

--- Doctor's endpoint rows, each followed by the rows of the models it serves.
--- @param offline string? why the endpoints were not asked
--- @param timeout_ms number health.timeout_ms, of which doctor's --timeout comes
local function report_endpoints(data, offline, timeout_ms)
  local fix_url = 'check provider.base_url / $FUSE_LS_BASE_URL (or the pool entry\'s or judge\'s base_url), and the network'
  -- Doctor's row names its bound: this one is ours (--timeout), not timeouts.connect_s + 5.
  local ours = ('got no answer within %gs'):format(M.endpoint_seconds(timeout_ms))
  local wait_longer = ('here doctor asks the endpoints for at most %g s (health.timeout_ms less 2 s): for a slower one, setup({ health = { timeout_ms = 60000 } })'):format(
    M.endpoint_seconds(timeout_ms)
  )
  for _, c in ipairs(data.checks or {}) do
    local name, status, detail = tostring(c.check or ''), c.status, tostring(c.detail or '')
    if vim.startswith(name, 'endpoint ') then
      local base = name:sub(#'endpoint ' + 1)
      if offline then
        health.info(('%s: not checked (%s)'):format(base, offline))
      elseif status == 'ok' then
        health.ok(('%s %s'):format(base, detail))
      else
        local advice = { fix_url }
        if vim.endswith(detail, ours) then
          table.insert(advice, wait_longer)
        end
        health.error(('%s %s'):format(base, detail), advice)
      end
    elseif vim.startswith(name, 'model ') and not offline then
      local msg = ('%s: %s'):format(name, detail)
      if status == 'ok' then
        health.ok(msg)
      elseif status == 'error' then
        health.error(msg, { 'check the id in pool / judge against the endpoint\'s /models' })
      else
        health.info(msg)
      end
    end
  end
end

--- Doctor's trust row knows both sources (the trust list and --trust); say which one
--- Neovim is.
local function report_trust(data, by_editor)
  for _, c in ipairs(rows(data, 'workspace trust')) do
    local msg = 'workspace trust: ' .. c.detail
    if by_editor then
      msg = msg .. " Neovim passes --trust: the plugin's option `trusted` trusts this workspace."
    end
    -- No full stop after the tag: :checkhealth would make it part of the link.
    health.info(msg .. ' See :help fuse_ls-trust')
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
          'install it from a clone of fuse-ls (no PyPI release yet): `pipx install .` inside the clone, or `pip install -e .` in a virtualenv',
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
  -- fuse-ls checks the settings, keys and endpoints itself (`fuse-ls doctor`), with the
  -- editor's settings on top of the files and environment, as the server loads them.
  health.start('fuse-ls: settings')
  local cwd = server_root(fuse, config)
  local init = type(config.init_options) == 'table' and config.init_options or {}
  local trust_key = require('fuse_ls.lsp').TRUST_KEY
  -- As before_init sends it: the option, or an explicit `true` in init_options.
  local trusted = require('fuse_ls.lsp').is_trusted(config.trusted, cwd) or init[trust_key] == true
  local layers, ignored = editor_layers(config)
  for _, msg in ipairs(ignored) do
    health.warn(msg, SETTINGS_ADVICE)
  end
  local given = fuse.options.health
  local opts = vim.tbl_extend('force', require('fuse_ls.config').defaults.health, type(given) == 'table' and given or {})
  local timeout_ms = tonumber(opts.timeout_ms) or require('fuse_ls.config').defaults.health.timeout_ms
  local data, why_not, timed_out, offline
  if not opts.endpoints then
    offline = 'option health.endpoints is false'
  end
  if prefix then
    data, why_not, timed_out = run_doctor(prefix, env, cwd, layers, trusted, not offline, timeout_ms)
  elseif type(config.cmd) == 'function' then
    why_not = 'cmd is a function, so the fuse-ls executable is unknown; run `fuse-ls doctor` where the server runs'
  else
    why_not = 'fuse-ls not found (see "server" above)'
  end
  local advice = {
    'run `fuse-ls doctor` in a terminal in the workspace; an older fuse-ls has no `doctor --editor-settings`: upgrade it',
  }
  if timed_out then
    advice = {
      'most often an endpoint accepts connections but does not answer: run `fuse-ls doctor` in a terminal to see which',
      'a fuse-ls without `doctor --timeout` waits timeouts.connect_s + 5 s for each endpoint: upgrade it, wait longer, setup({ health = { timeout_ms = 60000 } }), or check without them, setup({ health = { endpoints = false } })',
    }
  end
  local unchecked = function(what)
    health.warn(('%s not checked: %s'):format(what, why_not), advice)
  end
  if data then
    report_trust(data, trusted)
    report_settings(data)
  else
    health.info(('the option `trusted` %s %s; see :help fuse_ls-trust'):format(trusted and 'trusts' or 'does not trust', cwd))
    unchecked('settings')
  end

  -- API key -------------------------------------------------------------
  health.start('fuse-ls: API key')
  if data then
    report_keys(data)
  else
    unchecked('API keys')
  end

  -- Endpoint ------------------------------------------------------------
  health.start('fuse-ls: endpoint')
  if data then
    report_endpoints(data, offline, timeout_ms)
  else
    unchecked('endpoints')
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
