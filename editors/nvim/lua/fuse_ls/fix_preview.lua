--- fuse-ls: the fused fix arrives as workspace/applyEdit with a change annotation that
--- needs confirmation; preview it as a diff and ask (option `confirm_fix`).
local config = require('fuse_ls.config')
local state = require('fuse_ls.state')

local M = {}

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

--- Unified diff of what `edit` would do to every document it touches.
--- @param edit lsp.WorkspaceEdit
--- @param encoding string
--- @return string
function M.diff(edit, encoding)
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

--- The default `confirm_fix`: the diff in a float, then confirm() Apply / Discard.
--- @param info fuse_ls.EditPreview
--- @return boolean
--- The fused fix's annotation: its label says how the checks went when the server ran
--- them ("Fused fix: checks passed (3 commands, 8.2 s)"), its description the failing lines.
local function fix_annotation(info)
  for _, a in pairs(info.annotations or {}) do
    if type(a) == 'table' and a.needsConfirmation then
      return a
    end
  end
  return {}
end

function M.default_confirm(info)
  local note = fix_annotation(info)
  local lines = vim.split(info.diff, '\n', { plain = true })
  local failing = type(note.label) == 'string' and note.label:find('checks failed', 1, true)
  if failing and type(note.description) == 'string' then
    -- The failing check output first, as diff comments, so it is read before the change.
    local head = {}
    for _, l in ipairs(vim.split(note.description, '\n', { plain = true })) do
      table.insert(head, '# ' .. l)
    end
    lines = vim.list_extend(head, lines)
  end
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
    title = ' fuse-ls: ' .. (note.label or info.label or 'fused fix') .. ' ',
    style = 'minimal',
  })
  vim.cmd.redraw()
  local question = failing and 'fuse-ls: the fix FAILED its checks; apply it anyway?'
    or (type(note.label) == 'string' and note.label:find('checks passed', 1, true))
      and ('fuse-ls: apply the fused fix (' .. note.label:match('checks passed.*') .. ')?')
    or 'fuse-ls: apply the fused fix?'
  local choice = vim.fn.confirm(question, '&Apply\n&Discard', failing and 2 or 1, 'Question')
  if ok_win and vim.api.nvim_win_is_valid(win) then
    vim.api.nvim_win_close(win, true)
  end
  pcall(vim.api.nvim_buf_delete, buf, { force = true })
  return choice == 1
end

local function stale(edit)
  for uri, entry in pairs(text_edits_by_uri(edit)) do
    local version = entry.version
    local current = vim.lsp.util.buf_versions[vim.uri_to_bufnr(uri)]
    if type(version) == 'number' and version > 0 and current and current > version then
      return ('%s changed since the fix was computed (version %d, now %d)'):format(
        uri,
        version,
        current
      )
    end
  end
  return nil
end

local function user_accepts(info)
  local confirm = config.options.confirm_fix
  if confirm == true or confirm == nil then
    return M.default_confirm(info)
  elseif type(confirm) == 'function' then
    local ok, res = pcall(confirm, info)
    return ok and res and true or false
  end
  return true
end

--- workspace/applyEdit for the fuse-ls client. Neovim 0.11 ignores change annotations
--- and applies every edit silently; fuse-ls marks its fused fix `needsConfirmation`, so
--- this handler shows the diff and asks. It also reports a stale edit as not applied
--- instead of pretending success.
function M.apply_edit_handler(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client then
    return { applied = false, failureReason = 'client has shut down' }
  end
  local edit = params.edit or {}
  local encoding = client.offset_encoding or 'utf-16'
  local why = stale(edit)
  if why then
    return { applied = false, failureReason = why }
  end
  if needs_confirmation(edit) then
    local info = {
      label = params.label,
      annotations = edit.changeAnnotations or {},
      diff = M.diff(edit, encoding),
      edit = edit,
    }
    state.last_preview = info
    if not user_accepts(info) then
      return { applied = false, failureReason = 'declined by the user' }
    end
  end
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, edit, encoding)
  if not ok then
    return { applied = false, failureReason = tostring(err) }
  end
  return { applied = true }
end

return M
