-- Shared helpers for the headless Neovim end-to-end tests.
--
-- Environment (set by tests/editors/conftest.py):
--   FUSE_TEST_OUT        JSON report written by H.finish()
--   FUSE_TEST_PLUGIN     editors/nvim (prepended to the runtimepath)
--   FUSE_TEST_PYTHON     the Python that runs `-m fuse_ls serve`
--   FUSE_TEST_WORKSPACE  the workspace with sample.py
local H = {}

H.plugin = assert(os.getenv('FUSE_TEST_PLUGIN'), 'FUSE_TEST_PLUGIN not set')
H.python = os.getenv('FUSE_TEST_PYTHON') or 'python3'
H.workspace = os.getenv('FUSE_TEST_WORKSPACE') or vim.fn.getcwd()
H.out = os.getenv('FUSE_TEST_OUT')
H.report = { ok = false, checks = {}, messages = {}, data = {}, progress = {}, notifications = {} }

vim.opt.runtimepath:prepend(H.plugin)
vim.o.shortmess = vim.o.shortmess .. 'F'
vim.lsp.log.set_level(vim.log.levels.WARN)

-- Record notifications instead of printing them.
vim.notify = function(msg, level)
  table.insert(H.report.messages, { msg = tostring(msg), level = level or vim.log.levels.INFO })
end

vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(args)
    local v = args.data.params and args.data.params.value or {}
    table.insert(H.report.progress, {
      client_id = args.data.client_id,
      token = tostring(args.data.params and args.data.params.token),
      kind = v.kind,
      title = v.title,
      message = v.message,
    })
  end,
})
vim.api.nvim_create_autocmd('User', {
  pattern = { 'FuseLsModelStatus', 'FuseLsFusionStatus' },
  callback = function(args)
    table.insert(H.report.notifications, { event = args.match, data = args.data })
  end,
})

--- Record one check.
function H.check(name, ok, detail)
  table.insert(H.report.checks, { name = name, ok = ok and true or false, detail = detail })
  return ok
end

--- Wait for a predicate; processes LSP traffic meanwhile.
function H.wait(ms, pred)
  return vim.wait(ms, pred, 10) == true
end

--- Wait and record the outcome as a check.
function H.wait_check(name, ms, pred, detail_fn)
  local t0 = vim.uv.hrtime()
  local ok = H.wait(ms, pred)
  local detail = detail_fn and detail_fn() or nil
  H.check(name, ok, { waited_ms = math.floor((vim.uv.hrtime() - t0) / 1e6), detail = detail })
  return ok
end

function H.server_cmd()
  return { H.python, '-m', 'fuse_ls', 'serve' }
end

H.pool = { 'emu/alpha', 'emu/beta', 'emu/gamma' }

function H.settings(extra)
  return vim.tbl_deep_extend('force', {
    pool = H.pool,
    judge = 'emu/judge',
    mode = 'merge',
    telemetry = { enabled = false },
  }, extra or {})
end

--- require('fuse_ls').setup() against the real server.
function H.setup(opts)
  opts = opts or {}
  local fuse = require('fuse_ls')
  fuse.setup(vim.tbl_deep_extend('force', {
    cmd = H.server_cmd(),
    settings = { fuseLs = H.settings() },
  }, opts))
  return fuse
end

--- Record every workspace/executeCommand the plugin sends (for asserting ranges).
H.sent = {}
function H.spy_requests(client)
  local orig = client.request
  client.request = function(self, method, params, handler, bufnr)
    if method == 'workspace/executeCommand' then
      table.insert(H.sent, vim.deepcopy(params))
    end
    return orig(self, method, params, handler, bufnr)
  end
end

--- Edit a file (absolute path) and wait until fuse-ls is attached and initialized.
function H.open_path(path, timeout)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  local fuse = require('fuse_ls')
  local ok = H.wait_check('attached ' .. path, timeout or 20000, function()
    local c = fuse.get_client(buf)
    return c ~= nil and c.initialized == true
  end)
  local client = fuse.get_client(buf)
  if not ok then
    error('fuse-ls did not attach to ' .. path)
  end
  return buf, client
end

--- Edit a workspace file and wait until fuse-ls is attached and initialized.
function H.open(relpath, timeout)
  return H.open_path(H.workspace .. '/' .. relpath, timeout)
end

function H.fuse_diagnostics(buf)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.source == 'fuse-ls' then
      local lsp = d.user_data and d.user_data.lsp or {}
      table.insert(out, {
        lnum = d.lnum,
        end_lnum = d.end_lnum,
        col = d.col,
        severity = d.severity,
        message = d.message,
        code = d.code,
        data = lsp.data,
      })
    end
  end
  return out
end

function H.lines(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

--- Code actions the server offers for a range, as { {title, kind}, ... }.
function H.code_actions(client, buf, range, diagnostics)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = range,
    context = { diagnostics = diagnostics or {}, triggerKind = 1 },
  }
  local res = client:request_sync('textDocument/codeAction', params, 10000, buf)
  if not res then
    return nil, 'timeout'
  end
  if res.err then
    return nil, res.err
  end
  local out = {}
  for _, a in ipairs(res.result or {}) do
    table.insert(out, { title = a.title, kind = a.kind, command = a.command, has_edit = a.edit ~= nil, data = a.data })
  end
  return out
end

local function read_file(path, max)
  local f = io.open(path, 'r')
  if not f then
    return ''
  end
  local s = f:read('*a') or ''
  f:close()
  if max and #s > max then
    s = s:sub(-max)
  end
  return s
end

function H.finish()
  local ok = H.report.error == nil and #H.report.checks > 0
  for _, c in ipairs(H.report.checks) do
    if not c.ok then
      ok = false
    end
  end
  H.report.ok = ok
  H.report.server_log = read_file(vim.lsp.log.get_filename(), 20000)
  if H.out then
    local f = assert(io.open(H.out, 'w'))
    local okj, encoded = pcall(vim.json.encode, H.report)
    if not okj then
      H.report.data = { unencodable = tostring(encoded) }
      H.report.notifications = {}
      encoded = vim.json.encode(H.report)
    end
    f:write(encoded)
    f:close()
  end
  for _, c in ipairs(vim.lsp.get_clients()) do
    c:stop(true)
  end
  os.exit(ok and 0 or 1)
end

--- Run a test body, record any error, write the report and exit.
function H.run(fn)
  local ok, err = xpcall(fn, debug.traceback)
  if not ok then
    H.report.error = tostring(err)
  end
  H.finish()
end

return H
