import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class OrderDao {
    private final Connection conn;

    public OrderDao(Connection conn) {
        this.conn = conn;
    }

    public ResultSet byCustomer(String customerId) throws SQLException {
        Statement st = conn.createStatement();
        return st.executeQuery("SELECT * FROM orders WHERE customer_id = '" + customerId + "'");
    }
}
