--- fuse-ls: the explanation window (option `explain`) and window/showDocument.
local config = require('fuse_ls.config')
local state = require('fuse_ls.state')

local M = {}

local function close_with_q(buf)
  vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, desc = 'close the explanation' })
end

--- Show `buf` in the explanation window (created per explain.open, reused after).
local function open_window(buf, focus)
  local how = (config.options.explain or {}).open or 'split'
  local prev = vim.api.nvim_get_current_win()
  local win = state.explain_win
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
  state.explain_win = win
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
  local buf = state.explain_buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    buf = vim.api.nvim_create_buf(false, true)
    vim.bo[buf].bufhidden = 'hide'
    vim.bo[buf].swapfile = false
    pcall(vim.api.nvim_buf_set_name, buf, 'fuse-ls://explanation')
    close_with_q(buf)
    state.explain_buf = buf
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
  open_window(buf, (config.options.explain or {}).focus)
  return buf
end

--- Show an explain command's result unless the server already showed its document.
--- @param result table  the fuse-ls.explain result
function M.show_result(result)
  if result.documentUri and state.shown_uris[result.documentUri] then
    return
  end
  if result.markdown then
    M.show_markdown(result.markdown)
  end
end

--- window/showDocument: open a document the server asks to show in the explanation
--- window instead of replacing the code buffer.
function M.show_document_handler(_, params)
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
  -- The document is model text: a modeline in it ("vim: set ft=... :") would set this
  -- buffer's options when it is read. Off before the first read.
  vim.bo[bufnr].modeline = false
  vim.fn.bufload(bufnr)
  if vim.bo[bufnr].filetype == '' and uri:match('%.md$') then
    vim.bo[bufnr].filetype = 'markdown'
  end
  close_with_q(bufnr)
  -- explain.focus: nil follows the server's takeFocus, true/false overrides it.
  local focus = (config.options.explain or {}).focus
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
  state.shown_uris[uri] = bufnr
  return { success = true }
end

return M
