--- fuse-ls: finding the language client, and talking to the user.
local config = require('fuse_ls.config')

local M = {}

--- @param msg string
--- @param level? integer  vim.log.levels (default INFO)
function M.notify(msg, level)
  vim.notify('fuse-ls: ' .. msg, level or vim.log.levels.INFO)
end

--- Transient message that does not pile up in :messages.
function M.echo(msg)
  vim.api.nvim_echo({ { 'fuse-ls: ' .. msg } }, false, {})
end

--- The fuse-ls client attached to a buffer.
--- @param bufnr? integer
--- @return vim.lsp.Client?
function M.get(bufnr)
  bufnr = vim._resolve_bufnr(bufnr or 0)
  return vim.lsp.get_clients({ bufnr = bufnr, name = config.name })[1]
end

--- The buffer's client; an error message when there is none.
--- @param bufnr? integer
--- @return vim.lsp.Client?
function M.attached(bufnr)
  bufnr = vim._resolve_bufnr(bufnr or 0)
  local client = M.get(bufnr)
  if not client and vim.bo[bufnr].buftype == '' and vim.api.nvim_buf_get_name(bufnr) == '' then
    -- No file, no workspace: no server (:help fuse_ls-unnamed).
    M.notify(
      'this buffer has no file: write it to a file first (:write {file}), then run the command again',
      vim.log.levels.ERROR
    )
  elseif not client then
    M.notify(
      'the language server is not attached to this buffer. Run :checkhealth fuse_ls',
      vim.log.levels.ERROR
    )
  end
  return client
end

--- The buffer's client, else any fuse-ls client (for session-wide commands such as
--- cancel and stats); a warning when the server is not running.
--- @param bufnr? integer
--- @return integer bufnr, vim.lsp.Client? client
function M.session(bufnr)
  bufnr = vim._resolve_bufnr(bufnr or 0)
  local client = M.get(bufnr) or vim.lsp.get_clients({ name = config.name })[1]
  if not client then
    M.notify('the language server is not running', vim.log.levels.WARN)
  end
  return bufnr, client
end

return M
