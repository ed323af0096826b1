-- An explanation document holds model text: a modeline in it must not set the options
-- of the buffer it is shown in (window/showDocument loads the file from disk).
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  -- On for every user but root, where the tests may run: as a user has it.
  vim.o.modeline = true
  local path = H.workspace .. '/explanation.md'
  local file = assert(io.open(path, 'w'))
  file:write('# What this code does\n\nIt adds.\n\n<!-- vim: set filetype=lua tabstop=3 : -->\n')
  file:close()
  local explanation = require('fuse_ls.explanation')
  local result = explanation.show_document_handler(nil, { uri = vim.uri_from_fname(path), takeFocus = false })
  H.check('shown', result.success, result)
  local buf = vim.fn.bufnr(path)
  H.report.data.filetype = vim.bo[buf].filetype
  H.report.data.tabstop = vim.bo[buf].tabstop
  H.check('the modeline set no option', vim.bo[buf].filetype == 'markdown' and vim.bo[buf].tabstop ~= 3, {
    filetype = vim.bo[buf].filetype,
    tabstop = vim.bo[buf].tabstop,
  })
end)
