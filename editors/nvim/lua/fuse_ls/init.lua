--- fuse-ls: multi-model consensus (fused review, explain, fix) in Neovim >= 0.11.
---
--- Two ways in:
---   require('fuse_ls').setup({...})     -- vim.lsp.config + vim.lsp.enable, user commands
---   vim.lsp.enable('fuse_ls')            -- uses lsp/fuse_ls.lua on the runtimepath
---
--- See :help fuse_ls.
local M = {}

M.name = 'fuse_ls'

--- Commands the server implements (docs/protocol.md).
M.commands = {
  review = 'fuse-ls.review',
  explain = 'fuse-ls.explain',
  fix = 'fuse-ls.fix',
  cancel = 'fuse-ls.cancel',
  stats = 'fuse-ls.stats',
  finding_decision = 'fuse-ls.findingDecision',
}

--- @class fuse_ls.Options
--- @field cmd? string[]|fun(...): any  server command (default: { 'fuse-ls', 'serve' })
--- @field cmd_env? table<string,string> extra environment for the server process
--- @field settings? table  LSP settings; fuse-ls reads the `fuseLs` section
--- @field init_options? table  initializationOptions (default: settings.fuseLs)
--- @field filetypes? string[]  nil: every filetype (and buffers without one)
--- @field root_markers? (string|string[])[]
--- @field keymaps? boolean|table<string,string>  false (default): none
--- @field confirm_fix? boolean|fun(info: fuse_ls.EditPreview): boolean
--- @field explain? { open?: 'split'|'vsplit'|'tab'|'float'|'current', focus?: boolean } focus nil: as the server asks
--- @field progress? boolean  echo work-done progress of fuse-ls (default true)
--- @field model_status? boolean  echo each model's state changes (default false)
--- @field capabilities? table  merged into the client capabilities
--- @field on_attach? fun(client: vim.lsp.Client, bufnr: integer)

M.defaults = {
  cmd = { 'fuse-ls', 'serve' },
  cmd_env = nil,
  settings = { fuseLs = vim.empty_dict() },
  init_options = nil,
  filetypes = nil,
  root_markers = { '.fuse-ls.toml', 'pyproject.toml', '.git' },
  keymaps = false,
  confirm_fix = true,
  explain = { open = 'split', focus = nil },
  progress = true,
  model_status = false,
}

--- Suggested keymaps, installed only with `keymaps = true`.
M.suggested_keymaps = {
  review = '<leader>Fr',
  explain = '<leader>Fe',
  fix = '<leader>Ff',
  cancel = '<leader>Fc',
  stats = '<leader>Fs',
}

--- Options in force (defaults until setup() runs).
M.options = vim.deepcopy(M.defaults)

--- Runtime state, exposed for statuslines and tests.
M.state = {
  inflight = {}, --- request id -> { client_id, bufnr, uri, command }
  fusions = {}, --- fusionId -> last fuse/fusionStatus params
  models = {}, --- fusionId -> { [model#index] = fuse/modelStatus params }
  session_cost_usd = 0,
  last_result = {}, --- command -> last result table
  explain_buf = nil,
  explain_win = nil,
  shown_uris = {}, --- uri -> bufnr of explanations already on screen
  last_preview = nil, --- last fused fix preview (fuse_ls.EditPreview)
}

local function notify(msg, level)
  vim.notify('fuse-ls: ' .. msg, level or vim.log.levels.INFO)
end

local function echo(msg)
  -- Transient message that does not pile up in :messages.
  vim.api.nvim_echo({ { 'fuse-ls: ' .. msg } }, false, {})
end

---------------------------------------------------------------------------
-- Clients and ranges
---------------------------------------------------------------------------

--- The fuse-ls client attached to a buffer.
--- @param bufnr? integer
--- @return vim.lsp.Client?
function M.get_client(bufnr)
  bufnr = vim._resolve_bufnr(bufnr or 0)
  return vim.lsp.get_clients({ bufnr = bufnr, name = M.name })[1]
end

local function require_client(bufnr)
  local client = M.get_client(bufnr)
  if not client then
    notify(
      'the language server is not attached to this buffer. Run :checkhealth fuse_ls',
      vim.log.levels.ERROR
    )
  end
  return client
end

local function utf_col(line, byte_col, encoding)
  byte_col = math.min(math.max(byte_col, 0), #line)
  if encoding == 'utf-8' then
    return byte_col
  end
  local ok, col = pcall(vim.str_utfindex, line, encoding, byte_col, false)
  return ok and col or byte_col
end

--- LSP range from 1-based inclusive lines (line-wise).
--- @param bufnr integer
--- @param line1 integer
--- @param line2 integer
--- @param encoding? string
--- @return lsp.Range
function M.line_range(bufnr, line1, line2, encoding)
  encoding = encoding or 'utf-16'
  if line1 > line2 then
    line1, line2 = line2, line1
  end
  local last = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ''
  return {
    start = { line = line1 - 1, character = 0 },
    ['end'] = { line = line2 - 1, character = utf_col(last, #last, encoding) },
  }
end

--- LSP range of the last visual selection in `bufnr` (charwise, linewise or blockwise,
--- the latter taken line-wise).
--- @param bufnr? integer
--- @param encoding? string
--- @return lsp.Range
function M.visual_range(bufnr, encoding)
  bufnr = vim._resolve_bufnr(bufnr or 0)
  encoding = encoding or 'utf-16'
  local s = vim.api.nvim_buf_get_mark(bufnr, '<')
  local e = vim.api.nvim_buf_get_mark(bufnr, '>')
  if s[1] > e[1] or (s[1] == e[1] and s[2] > e[2]) then
    s, e = e, s
  end
  if vim.fn.visualmode() ~= 'v' then
    return M.line_range(bufnr, s[1], e[1], encoding)
  end
  local lines = vim.api.nvim_buf_get_lines(bufnr, s[1] - 1, e[1], false)
  local first, last = lines[1] or '', lines[#lines] or ''
  -- '> is the byte index of the first byte of the last selected character.
  local end_byte = #last
  if e[2] < #last then
    local char_len = vim.str_utf_end(last, e[2] + 1) + 1
    end_byte = e[2] + char_len
  end
  if vim.o.selection == 'exclusive' then
    end_byte = math.min(e[2], #last)
  end
  return {
    start = { line = s[1] - 1, character = utf_col(first, s[2], encoding) },
    ['end'] = { line = e[1] - 1, character = utf_col(last, end_byte, encoding) },
  }
end

--- Range for a user command: nil (whole document) without a range, the visual selection
--- when the command was given on one, else the line range.
local function command_range(bufnr, cmdopts, encoding)
  if not cmdopts or cmdopts.range == 0 then
    return nil
  end
  local vs = vim.api.nvim_buf_get_mark(bufnr, '<')
  local ve = vim.api.nvim_buf_get_mark(bufnr, '>')
  if vs[1] == cmdopts.line1 and ve[1] == cmdopts.line2 and vs[1] > 0 then
    return M.visual_range(bufnr, encoding)
  end
  return M.line_range(bufnr, cmdopts.line1, cmdopts.line2, encoding)
end

---------------------------------------------------------------------------
-- Explanation window
---------------------------------------------------------------------------

--- Show `buf` in the explanation window (created per explain.open, reused after).
local function open_window(buf, focus)
  local how = (M.options.explain or {}).open or 'split'
  local prev = vim.api.nvim_get_current_win()
  local win = M.state.explain_win
  if win and vim.api.nvim_win_is_valid(win) then
    vim.api.nvim_win_set_buf(win, buf)
  elseif how == 'float' then
    local width = math.max(40, math.floor(vim.o.columns * 0.7))
    local height = math.max(10, math.floor(vim.o.lines * 0.7))
    win = vim.api.nvim_open_win(buf, true, {
      relative = 'editor',
      width = width,
      height = height,
      row = math.floor((vim.o.lines - height) / 2),
      col = math.floor((vim.o.columns - width) / 2),
      border = 'rounded',
      title = ' fuse-ls: explanation ',
      style = 'minimal',
    })
    vim.wo[win].wrap = true
    focus = true -- a float without focus cannot be dismissed easily
  elseif how == 'current' then
    win = prev
    vim.api.nvim_win_set_buf(win, buf)
    focus = true
  else
    local mods = ({ split = 'botright split', vsplit = 'botright vsplit', tab = 'tab split' })[how]
      or 'botright split'
    vim.cmd(mods)
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
    vim.wo[win].wrap = true
    vim.wo[win].linebreak = true
  end
  M.state.explain_win = win
  if not focus and vim.api.nvim_win_is_valid(prev) then
    vim.api.nvim_set_current_win(prev)
  end
  return win
end

--- Show Markdown in the explanation scratch buffer.
--- @param markdown string
--- @param title? string
--- @return integer bufnr
function M.show_markdown(markdown, title)
  local buf = M.state.explain_buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    buf = vim.api.nvim_create_buf(false, true)
    vim.bo[buf].bufhidden = 'hide'
    vim.bo[buf].swapfile = false
    pcall(vim.api.nvim_buf_set_name, buf, 'fuse-ls://explanation')
    vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, desc = 'close the explanation' })
    M.state.explain_buf = buf
  end
  local lines = vim.split(markdown or '', '\n', { plain = true })
  if title then
    table.insert(lines, 1, '')
    table.insert(lines, 1, title)
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
  vim.bo[buf].filetype = 'markdown'
  open_window(buf, (M.options.explain or {}).focus)
  return buf
end

--- Open a document the server asked to show (window/showDocument) in the explanation
--- window instead of replacing the code buffer.
local function show_document_handler(_, params)
  if params.external then
    local cmd = vim.ui.open(params.uri)
    local ret = cmd and cmd:wait(2000) or nil
    return { success = ret ~= nil and ret.code == 0 }
  end
  local uri = params.uri
  local ok, bufnr = pcall(vim.uri_to_bufnr, uri)
  if not ok then
    return { success = false }
  end
  -- Keep fuse-ls itself from attaching to its own explanation documents.
  vim.b[bufnr].fuse_ls_skip = true
  vim.fn.bufload(bufnr)
  if vim.bo[bufnr].filetype == '' and uri:match('%.md$') then
    vim.bo[bufnr].filetype = 'markdown'
  end
  vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = bufnr, desc = 'close the explanation' })
  -- explain.focus: nil follows the server's takeFocus, true/false overrides it.
  local focus = (M.options.explain or {}).focus
  if focus == nil then
    focus = params.takeFocus
  end
  local win = vim.fn.win_findbuf(bufnr)[1]
  if win then
    if focus then
      vim.api.nvim_set_current_win(win)
    end
  else
    open_window(bufnr, focus)
  end
  M.state.shown_uris[uri] = bufnr
  return { success = true }
end

---------------------------------------------------------------------------
-- Fused fix: workspace/applyEdit with change annotations
---------------------------------------------------------------------------

--- @class fuse_ls.EditPreview
--- @field label? string
--- @field annotations table<string, lsp.ChangeAnnotation>
--- @field diff string unified diff of every document the edit touches
--- @field edit lsp.WorkspaceEdit

local function needs_confirmation(edit)
  for _, a in pairs(edit.changeAnnotations or {}) do
    if type(a) == 'table' and a.needsConfirmation then
      return true
    end
  end
  return false
end

local function text_edits_by_uri(edit)
  local out = {} --- uri -> { edits, version }
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument then
      local uri = change.textDocument.uri
      out[uri] = out[uri] or { edits = {} }
      out[uri].version = change.textDocument.version
      vim.list_extend(out[uri].edits, change.edits or {})
    end
  end
  if not edit.documentChanges then
    for uri, edits in pairs(edit.changes or {}) do
      out[uri] = { edits = edits }
    end
  end
  return out
end

local function preview(edit, encoding)
  local parts = {}
  for uri, entry in pairs(text_edits_by_uri(edit)) do
    local bufnr = vim.uri_to_bufnr(uri)
    vim.fn.bufload(bufnr)
    local before = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
    local scratch = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_lines(scratch, 0, -1, false, before)
    local edits = vim.deepcopy(entry.edits)
    for _, e in ipairs(edits) do
      e.annotationId = nil
    end
    pcall(vim.lsp.util.apply_text_edits, edits, scratch, encoding)
    local after = vim.api.nvim_buf_get_lines(scratch, 0, -1, false)
    vim.api.nvim_buf_delete(scratch, { force = true })
    local name = vim.fn.fnamemodify(vim.uri_to_fname(uri), ':~:.')
    local diff = (vim.text and vim.text.diff or vim.diff)(
      table.concat(before, '\n') .. '\n',
      table.concat(after, '\n') .. '\n',
      { ctxlen = 2 }
    )
    table.insert(parts, ('--- a/%s\n+++ b/%s\n%s'):format(name, name, diff or ''))
  end
  return table.concat(parts, '\n')
end

local function default_confirm(info)
  local lines = vim.split(info.diff, '\n', { plain = true })
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].filetype = 'diff'
  local width = math.min(vim.o.columns - 4, 100)
  local height = math.min(#lines, math.max(3, vim.o.lines - 8))
  local ok_win, win = pcall(vim.api.nvim_open_win, buf, false, {
    relative = 'editor',
    width = width,
    height = height,
    row = 1,
    col = math.floor((vim.o.columns - width) / 2),
    border = 'rounded',
    title = ' fuse-ls: ' .. (info.label or 'fused fix') .. ' ',
    style = 'minimal',
  })
  vim.cmd.redraw()
  local choice = vim.fn.confirm('fuse-ls: apply the fused fix?', '&Apply\n&Discard', 1, 'Question')
  if ok_win and vim.api.nvim_win_is_valid(win) then
    vim.api.nvim_win_close(win, true)
  end
  pcall(vim.api.nvim_buf_delete, buf, { force = true })
  return choice == 1
end

--- workspace/applyEdit for the fuse-ls client. Neovim 0.11 ignores change annotations
--- and applies every edit silently; fuse-ls marks its fused fix `needsConfirmation`, so
--- this handler shows the diff and asks (option `confirm_fix`). It also reports a stale
--- edit as not applied instead of pretending success.
local function apply_edit_handler(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client then
    return { applied = false, failureReason = 'client has shut down' }
  end
  local edit = params.edit or {}
  local encoding = client.offset_encoding or 'utf-16'

  for uri, entry in pairs(text_edits_by_uri(edit)) do
    local bufnr = vim.uri_to_bufnr(uri)
    local version = entry.version
    local current = vim.lsp.util.buf_versions[bufnr]
    if type(version) == 'number' and version > 0 and current and current > version then
      return {
        applied = false,
        failureReason = ('%s changed since the fix was computed (version %d, now %d)'):format(
          uri,
          version,
          current
        ),
      }
    end
  end

  if needs_confirmation(edit) then
    local info = {
      label = params.label,
      annotations = edit.changeAnnotations or {},
      diff = preview(edit, encoding),
      edit = edit,
    }
    M.state.last_preview = info
    local confirm = M.options.confirm_fix
    local accepted = true
    if confirm == true or confirm == nil then
      accepted = default_confirm(info)
    elseif type(confirm) == 'function' then
      local ok, res = pcall(confirm, info)
      accepted = ok and res and true or false
    end
    if not accepted then
      return { applied = false, failureReason = 'declined by the user' }
    end
  end

  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, edit, encoding)
  if not ok then
    return { applied = false, failureReason = tostring(err) }
  end
  return { applied = true }
end

---------------------------------------------------------------------------
-- Notifications and progress
---------------------------------------------------------------------------

local function model_status_handler(_, params)
  if type(params) ~= 'table' or not params.fusionId then
    return
  end
  local fm = M.state.models[params.fusionId] or {}
  fm[('%s#%s'):format(params.model or '?', params.index or 0)] = params
  M.state.models[params.fusionId] = fm
  if M.options.model_status then
    local extra = ''
    if params.latencyMs then
      extra = (' %.1fs'):format(params.latencyMs / 1000)
    end
    if params.error then
      extra = extra .. ' ' .. tostring(params.error)
    end
    echo(('%s %s %s%s'):format(params.task or '', params.model or '?', params.state or '', extra))
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'FuseLsModelStatus', modeline = false, data = params })
end

local function fusion_status_handler(_, params)
  if type(params) ~= 'table' or not params.fusionId then
    return
  end
  M.state.fusions[params.fusionId] = params
  if type(params.sessionCostUsd) == 'number' then
    M.state.session_cost_usd = params.sessionCostUsd
  end
  local st = params.state
  if st == 'finished' or st == 'failed' or st == 'cancelled' then
    M.state.models[params.fusionId] = nil
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'FuseLsFusionStatus', modeline = false, data = params })
end

--- Short status for a statusline: '' when idle, e.g. 'fuse-ls 2/3' while a fusion runs.
function M.statusline()
  local running, done, total = 0, 0, 0
  for id, f in pairs(M.state.fusions) do
    if f.state == 'started' or f.state == 'judging' then
      running = running + 1
      for _, m in pairs(M.state.models[id] or {}) do
        total = total + 1
        if m.state == 'finished' or m.state == 'failed' or m.state == 'cancelled' then
          done = done + 1
        end
      end
    end
  end
  if running == 0 then
    return ''
  end
  if total > 0 then
    return ('fuse-ls %d/%d'):format(done, total)
  end
  return 'fuse-ls …'
end

local progress_augroup = vim.api.nvim_create_augroup('fuse_ls.progress', { clear = true })

vim.api.nvim_create_autocmd('LspProgress', {
  group = progress_augroup,
  callback = function(args)
    if not M.options.progress then
      return
    end
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if not client or client.name ~= M.name then
      return
    end
    local value = args.data.params and args.data.params.value or {}
    local title = (value.title or ''):gsub('^fuse%-ls:%s*', '')
    local text = title
    if value.message then
      text = text .. ': ' .. value.message
    end
    if value.percentage and value.kind ~= 'end' then
      text = ('%s (%d%%)'):format(text, value.percentage)
    end
    echo(text)
  end,
})

---------------------------------------------------------------------------
-- Commands
---------------------------------------------------------------------------

local function summarize(command, result)
  if type(result) ~= 'table' or (command ~= M.commands.review and command ~= M.commands.fix) then
    return
  end
  if result.cancelled then
    notify('cancelled')
    return
  end
  if command == M.commands.review then
    local n = type(result.findings) == 'table' and #result.findings or 0
    notify(('review finished: %d finding%s'):format(n, n == 1 and '' or 's'))
  elseif command == M.commands.fix then
    if result.applied then
      notify('fused fix applied')
    else
      notify('fused fix not applied', vim.log.levels.WARN)
    end
  end
end

--- Run a fuse-ls command through workspace/executeCommand and track it for :FuseCancel.
--- @param command string  e.g. 'fuse-ls.review'
--- @param args table  the argument object
--- @param opts? { bufnr?: integer, client?: vim.lsp.Client, on_result?: fun(err: lsp.ResponseError?, result: any) }
--- @return integer? request_id
function M.execute(command, args, opts)
  opts = opts or {}
  local bufnr = vim._resolve_bufnr(opts.bufnr or 0)
  local client = opts.client or require_client(bufnr)
  if not client then
    if opts.on_result then
      opts.on_result({ code = -32603, message = 'fuse-ls is not attached' }, nil)
    end
    return nil
  end
  local request_id
  local finished = false
  local function on_response(err, result)
    if finished then
      return
    end
    finished = true
    if request_id then
      M.state.inflight[request_id] = nil
    end
    M.state.last_result[command] = { err = err, result = result }
    if err then
      if err.code == -32800 then -- RequestCancelled
        notify('cancelled')
      else
        notify(('%s failed: %s'):format(command, err.message or vim.inspect(err)), vim.log.levels.ERROR)
      end
    elseif command == M.commands.explain and type(result) == 'table' then
      if result.cancelled then
        notify('cancelled')
      elseif not (result.documentUri and M.state.shown_uris[result.documentUri]) then
        if result.markdown then
          M.show_markdown(result.markdown)
        end
      end
    else
      summarize(command, result)
    end
    if opts.on_result then
      opts.on_result(err, result)
    end
  end
  local ok
  ok, request_id = client:request('workspace/executeCommand', {
    command = command,
    arguments = { args },
  }, on_response, bufnr)
  if not ok then
    notify('could not send ' .. command .. ' (server stopped?)', vim.log.levels.ERROR)
    return nil
  end
  if not finished and command ~= M.commands.cancel and command ~= M.commands.stats then
    M.state.inflight[request_id] = {
      client_id = client.id,
      bufnr = bufnr,
      uri = args and args.uri,
      command = command,
      finish = on_response,
    }
  end
  return request_id
end

local function fusion_command(command)
  --- @param opts? { bufnr?: integer, range?: lsp.Range, line1?: integer, line2?: integer, visual?: boolean, on_result?: function }
  return function(opts)
    opts = opts or {}
    local bufnr = vim._resolve_bufnr(opts.bufnr or 0)
    local client = require_client(bufnr)
    if not client then
      return nil
    end
    local encoding = client.offset_encoding or 'utf-16'
    local range = opts.range
    if not range and opts.visual then
      range = M.visual_range(bufnr, encoding)
    elseif not range and opts.line1 then
      range = M.line_range(bufnr, opts.line1, opts.line2 or opts.line1, encoding)
    end
    local args = { uri = vim.uri_from_bufnr(bufnr) }
    if range then
      args.range = range
    end
    return M.execute(command, args, { bufnr = bufnr, client = client, on_result = opts.on_result })
  end
end

--- Fused review of a range (or the whole buffer). Diagnostics arrive by publishDiagnostics.
M.review = fusion_command(M.commands.review)
--- Explain with consensus; the Markdown opens in a scratch buffer (option `explain`).
M.explain = fusion_command(M.commands.explain)
--- Fused fix; the server sends the edit with workspace/applyEdit (option `confirm_fix`).
M.fix = fusion_command(M.commands.fix)

--- Give up on tracked requests: $/cancelRequest, and resolve them locally as cancelled
--- (Neovim drops the RequestCancelled answer, so their callbacks would never run).
local function abandon(pred)
  for id, req in pairs(M.state.inflight) do
    if pred(req, id) then
      M.state.inflight[id] = nil
      local c = vim.lsp.get_client_by_id(req.client_id)
      if c then
        c:cancel_request(id)
      end
      req.finish({ code = -32800, message = 'cancelled' }, nil)
    end
  end
end

--- The buffer's client, else any fuse-ls client (cancel and stats are session-wide);
--- warns when the server is not running.
local function any_client(bufnr)
  local client = M.get_client(bufnr) or vim.lsp.get_clients({ name = M.name })[1]
  if not client then
    notify('the language server is not running', vim.log.levels.WARN)
  end
  return client
end

--- Cancel the fusions of a buffer (or all with `all = true`). The server stops every model
--- stream and answers the running commands with `cancelled = true`; requests it has not
--- answered within `timeout_ms` (default 3000) are cancelled with $/cancelRequest.
--- @param opts? { bufnr?: integer, all?: boolean, on_result?: function, timeout_ms?: integer }
function M.cancel(opts)
  opts = opts or {}
  local bufnr = vim._resolve_bufnr(opts.bufnr or 0)
  local client = any_client(bufnr)
  if not client then
    return
  end
  local uri = vim.uri_from_bufnr(bufnr)
  local function matches(req)
    return opts.all or req.uri == uri
  end
  local pending = {}
  for id, req in pairs(M.state.inflight) do
    if matches(req) then
      pending[id] = true
    end
  end
  local args = opts.all and vim.empty_dict() or { uri = uri }
  M.execute(M.commands.cancel, args, {
    bufnr = bufnr,
    client = client,
    on_result = function(err, result)
      if not err and type(result) == 'table' then
        local n = tonumber(result.cancelled) or 0
        notify(('cancelled %d fusion%s'):format(n, n == 1 and '' or 's'))
      end
      if err then
        abandon(function(req)
          return matches(req)
        end)
      end
      if opts.on_result then
        opts.on_result(err, result)
      end
    end,
  })
  vim.defer_fn(function()
    abandon(function(req, id)
      return matches(req) and pending[id] == true
    end)
  end, opts.timeout_ms or 3000)
end

local function format_stats(s)
  local lines = {
    ('fuse-ls session: %d fusion%s, $%.4f'):format(
      s.fusions or 0,
      s.fusions == 1 and '' or 's',
      tonumber(s.costUsd) or 0
    ),
  }
  local ids = vim.tbl_keys(s.models or {})
  table.sort(ids)
  for _, id in ipairs(ids) do
    local m = s.models[id]
    table.insert(
      lines,
      ('  %-36s calls %3d  failures %2d  $%.4f  tokens %d/%d  mean %.0f ms'):format(
        id,
        m.calls or 0,
        m.failures or 0,
        tonumber(m.costUsd) or 0,
        m.promptTokens or 0,
        m.completionTokens or 0,
        tonumber(m.meanLatencyMs) or 0
      )
    )
  end
  return lines
end
M.format_stats = format_stats

--- Session statistics (calls, failures, cost, tokens, latency per model).
--- @param opts? { bufnr?: integer, on_result?: function, silent?: boolean }
function M.stats(opts)
  opts = opts or {}
  local bufnr = vim._resolve_bufnr(opts.bufnr or 0)
  local client = any_client(bufnr)
  if not client then
    return
  end
  M.execute(M.commands.stats, vim.empty_dict(), {
    bufnr = bufnr,
    client = client,
    on_result = function(err, result)
      if not err and type(result) == 'table' and not opts.silent then
        vim.notify(table.concat(format_stats(result), '\n'), vim.log.levels.INFO)
      end
      if opts.on_result then
        opts.on_result(err, result)
      end
    end,
  })
end

--- Client-side command handlers: code actions picked from vim.lsp.buf.code_action()
--- carry these commands; routing them here shows results the same way as :Fuse*.
local function client_command(command)
  return function(cmd, ctx)
    local args = (cmd.arguments or {})[1] or {}
    local bufnr = ctx and ctx.bufnr or 0
    if args.uri then
      bufnr = vim.uri_to_bufnr(args.uri)
    end
    local client = ctx and ctx.client_id and vim.lsp.get_client_by_id(ctx.client_id) or nil
    M.execute(command, args, { bufnr = bufnr, client = client })
  end
end

---------------------------------------------------------------------------
-- Configuration
---------------------------------------------------------------------------

local function root_dir(markers)
  return function(bufnr, on_dir)
    if vim.b[bufnr].fuse_ls_skip then
      return
    end
    local name = vim.api.nvim_buf_get_name(bufnr)
    if name:match('^%a[%w+.-]*://') and not name:match('^file://') then
      return
    end
    on_dir(vim.fs.root(bufnr, markers or {}))
  end
end

--- The vim.lsp.Config for fuse-ls (what lsp/fuse_ls.lua returns).
--- @param opts? fuse_ls.Options
--- @return vim.lsp.Config
function M.config(opts)
  opts = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  local settings = opts.settings or {}
  if settings.fuseLs == nil then
    settings.fuseLs = vim.empty_dict()
  end
  local init_options = opts.init_options
  if init_options == nil then
    init_options = vim.deepcopy(settings.fuseLs)
  end
  local capabilities = vim.tbl_deep_extend('force', {
    workspace = {
      workspaceEdit = {
        documentChanges = true,
        -- fuse_ls handles annotations (needsConfirmation) in its applyEdit handler.
        changeAnnotationSupport = { groupsOnLabel = false },
      },
    },
    window = { showDocument = { support = true }, workDoneProgress = true },
  }, opts.capabilities or {})
  return {
    cmd = opts.cmd,
    cmd_env = opts.cmd_env,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    root_dir = root_dir(opts.root_markers),
    settings = settings,
    init_options = init_options,
    capabilities = capabilities,
    on_attach = opts.on_attach,
    handlers = {
      ['workspace/applyEdit'] = apply_edit_handler,
      ['window/showDocument'] = show_document_handler,
      ['fuse/modelStatus'] = model_status_handler,
      ['fuse/fusionStatus'] = fusion_status_handler,
    },
    commands = {
      [M.commands.review] = client_command(M.commands.review),
      [M.commands.explain] = client_command(M.commands.explain),
      [M.commands.fix] = client_command(M.commands.fix),
    },
  }
end

--- Send new settings to running clients (workspace/didChangeConfiguration; the server then
--- pulls the `fuseLs` section again).
--- @param fuse_settings table  the fuseLs section
function M.update_settings(fuse_settings)
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    client.settings = vim.tbl_deep_extend('force', client.settings or {}, { fuseLs = fuse_settings })
    client:notify('workspace/didChangeConfiguration', { settings = client.settings })
  end
end

---------------------------------------------------------------------------
-- User commands, keymaps, setup
---------------------------------------------------------------------------

local function user_command(fn)
  return function(cmdopts)
    local bufnr = vim.api.nvim_get_current_buf()
    local client = require_client(bufnr)
    if not client then
      return
    end
    local range = command_range(bufnr, cmdopts, client.offset_encoding or 'utf-16')
    fn({ bufnr = bufnr, range = range })
  end
end

--- Define :FuseReview, :FuseExplain, :FuseFix, :FuseCancel, :FuseStats (idempotent).
function M.create_user_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('FuseReview', user_command(M.review), {
    range = true,
    desc = 'fuse-ls: fused review of the selection (or the buffer)',
  })
  cmd('FuseExplain', user_command(M.explain), {
    range = true,
    desc = 'fuse-ls: explain the selection with consensus',
  })
  cmd('FuseFix', user_command(M.fix), {
    range = true,
    desc = 'fuse-ls: fused fix of the selection',
  })
  cmd('FuseCancel', function(o)
    M.cancel({ all = o.bang })
  end, { bang = true, desc = 'fuse-ls: cancel the fusions of this buffer (! for all)' })
  cmd('FuseStats', function()
    M.stats()
  end, { desc = 'fuse-ls: session statistics per model' })
end

--- Install keymaps: `true` for M.suggested_keymaps, or a table { review = '<lhs>', ... }.
function M.set_keymaps(maps)
  if maps == true then
    maps = M.suggested_keymaps
  end
  if type(maps) ~= 'table' then
    return
  end
  local cmds = { review = 'FuseReview', explain = 'FuseExplain', fix = 'FuseFix' }
  for what, lhs in pairs(maps) do
    if cmds[what] then
      vim.keymap.set('n', lhs, '<cmd>' .. cmds[what] .. '<cr>', { desc = 'fuse-ls: ' .. what .. ' buffer' })
      vim.keymap.set('x', lhs, ':' .. cmds[what] .. '<cr>', { desc = 'fuse-ls: ' .. what .. ' selection', silent = true })
    elseif what == 'cancel' then
      vim.keymap.set('n', lhs, '<cmd>FuseCancel<cr>', { desc = 'fuse-ls: cancel' })
    elseif what == 'stats' then
      vim.keymap.set('n', lhs, '<cmd>FuseStats<cr>', { desc = 'fuse-ls: statistics' })
    end
  end
end

local attach_augroup = vim.api.nvim_create_augroup('fuse_ls.attach', { clear = true })

--- With `filetypes = nil`, vim.lsp.enable() attaches on the FileType event, which never
--- fires for a buffer without a filetype; start the client for those too.
local function attach_untyped(bufnr)
  if vim.bo[bufnr].buftype ~= '' or vim.bo[bufnr].filetype ~= '' then
    return
  end
  if not vim.lsp.is_enabled(M.name) or M.get_client(bufnr) then
    return
  end
  if vim.api.nvim_buf_get_name(bufnr) == '' then
    return
  end
  local config = vim.deepcopy(vim.lsp.config[M.name])
  if not config or config.filetypes then
    return
  end
  local rd = config.root_dir
  if type(rd) == 'function' then
    rd(bufnr, function(dir)
      config.root_dir = dir
      vim.schedule(function()
        if vim.api.nvim_buf_is_valid(bufnr) and vim.bo[bufnr].filetype == '' then
          vim.lsp.start(config, { bufnr = bufnr, reuse_client = config.reuse_client })
        end
      end)
    end)
  else
    vim.lsp.start(config, { bufnr = bufnr, reuse_client = config.reuse_client })
  end
end
M._attach_untyped = attach_untyped

--- @param opts? fuse_ls.Options
function M.setup(opts)
  if vim.fn.has('nvim-0.11') == 0 then
    notify('needs Neovim 0.11 or newer', vim.log.levels.ERROR)
    return
  end
  opts = opts or {}
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  -- Lists replace, never merge.
  for _, k in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    if opts[k] ~= nil then
      M.options[k] = opts[k]
    end
  end
  M.options.filetypes = opts.filetypes
  vim.lsp.config(M.name, M.config(M.options))
  vim.lsp.enable(M.name)
  M.create_user_commands()
  if M.options.keymaps then
    M.set_keymaps(M.options.keymaps)
  end
  vim.api.nvim_clear_autocmds({ group = attach_augroup })
  if not M.options.filetypes then
    vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
      group = attach_augroup,
      callback = function(args)
        -- After FileType detection has had its chance.
        vim.schedule(function()
          if vim.api.nvim_buf_is_valid(args.buf) then
            attach_untyped(args.buf)
          end
        end)
      end,
    })
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) then
        attach_untyped(b)
      end
    end
  end
end

return M
